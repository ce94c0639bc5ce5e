package walkthrough

import (
	"fmt"
	"strings"
)

// Version is a PostgreSQL release whose BackendStartup pgwalk can walk.
type Version struct {
	// Name is the release as users type it: "16.4".
	Name string `json:"version"`
	// Tag is the release tag in PostgreSQL's git repository: "REL_16_4".
	Tag string `json:"tag"`
	// Major is the major version: 16.
	Major int `json:"major"`
}

var versions = []Version{
	{Name: "16.4", Tag: "REL_16_4", Major: 16},
	{Name: "17.1", Tag: "REL_17_1", Major: 17},
}

// Versions returns the supported releases, oldest first.
func Versions() []Version { return append([]Version(nil), versions...) }

// VersionNames returns the names of Versions: "16.4", "17.1".
func VersionNames() []string {
	names := make([]string, len(versions))
	for i, v := range versions {
		names[i] = v.Name
	}
	return names
}

// UnknownVersionError is returned by LookupVersion for an unsupported release.
type UnknownVersionError struct{ Name string }

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("unsupported PostgreSQL version %q (supported: %s)", e.Name, strings.Join(VersionNames(), ", "))
}

// LookupVersion returns the supported release named name. "16" and "17"
// name the one supported release of that major version, and a tag such as
// "REL_17_1" names its release.
func LookupVersion(name string) (Version, error) {
	for _, v := range versions {
		if name == v.Name || name == v.Tag || name == fmt.Sprint(v.Major) {
			return v, nil
		}
	}
	return Version{}, &UnknownVersionError{Name: name}
}

// Permalink returns the GitHub address of lines first..last of file at v's tag.
func (v Version) Permalink(file string, first, last int) string {
	return fmt.Sprintf("https://github.com/postgres/postgres/blob/%s/%s#L%d-L%d", v.Tag, file, first, last)
}
