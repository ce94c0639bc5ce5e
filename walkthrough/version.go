package walkthrough

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Version is a PostgreSQL release whose BackendStartup pgwalk can walk. A
// Version taken from a Release (ParseRelease, a Catalog, LookupVersion)
// carries that release's manifest: see Release.
type Version struct {
	// Name is the release as users type it: "16.4".
	Name string `json:"version"`
	// Tag is the release tag in PostgreSQL's git repository: "REL_16_4".
	Tag string `json:"tag"`
	// Major is the major version: 16. It names the release and finds a
	// binary of the same major version; drivers never branch on it.
	Major int `json:"major"`

	release *Release
}

// Release returns the manifest v was made from, or nil for a Version
// written by hand.
func (v Version) Release() *Release { return v.release }

// Permalink returns the GitHub address of lines first..last of file at v's tag.
func (v Version) Permalink(file string, first, last int) string {
	return fmt.Sprintf("https://github.com/postgres/postgres/blob/%s/%s#L%d-L%d", v.Tag, file, first, last)
}

// Catalog is a set of releases, oldest first.
type Catalog struct {
	releases []*Release
}

// NewCatalog returns the catalog of rels. Two releases may not share a
// name or a tag.
func NewCatalog(rels ...*Release) (*Catalog, error) {
	c := &Catalog{releases: append([]*Release(nil), rels...)}
	seen := map[string]bool{}
	for _, r := range c.releases {
		if r == nil {
			return nil, errors.New("catalog: nil release")
		}
		for _, k := range []string{r.Version.Name, r.Version.Tag} {
			if seen[k] {
				return nil, fmt.Errorf("catalog: two releases are called %s", k)
			}
			seen[k] = true
		}
	}
	sort.Slice(c.releases, func(i, j int) bool { return releaseLess(c.releases[i].Version, c.releases[j].Version) })
	return c, nil
}

// releaseLess orders releases by major, then minor version.
func releaseLess(a, b Version) bool {
	if a.Major != b.Major {
		return a.Major < b.Major
	}
	return minor(a.Name) < minor(b.Name)
}

func minor(name string) int {
	_, m, _ := strings.Cut(name, ".")
	n, _ := strconv.Atoi(m)
	return n
}

// Releases returns the catalog's releases, oldest first.
func (c *Catalog) Releases() []*Release { return append([]*Release(nil), c.releases...) }

// Versions returns the catalog's versions, oldest first.
func (c *Catalog) Versions() []Version {
	out := make([]Version, len(c.releases))
	for i, r := range c.releases {
		out[i] = r.Version
	}
	return out
}

// Names returns the names of the catalog's releases: "16.4", "17.1".
func (c *Catalog) Names() []string {
	out := make([]string, len(c.releases))
	for i, r := range c.releases {
		out[i] = r.Version.Name
	}
	return out
}

// Lookup returns the release named name. A major version ("17") names the
// catalog's one release of that major version, and a tag ("REL_17_1") its
// release.
func (c *Catalog) Lookup(name string) (*Release, error) {
	var byMajor []*Release
	for _, r := range c.releases {
		if name == r.Version.Name || name == r.Version.Tag {
			return r, nil
		}
		if name == strconv.Itoa(r.Version.Major) {
			byMajor = append(byMajor, r)
		}
	}
	if len(byMajor) == 1 {
		return byMajor[0], nil
	}
	return nil, &UnknownVersionError{Name: name, Supported: c.Names()}
}

// UnknownVersionError is returned for a release pgwalk has no manifest of.
type UnknownVersionError struct {
	Name      string
	Supported []string
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("unsupported PostgreSQL version %q (supported: %s)", e.Name, strings.Join(e.Supported, ", "))
}

// The process's catalog: the package that embeds the release manifests
// (annotations) installs the function that builds it, and it is built once,
// when first asked for.
var defaultCatalog struct {
	mu    sync.Mutex
	load  func() (*Catalog, error)
	built bool
	cat   *Catalog
	err   error
}

// UseCatalog installs load as the source of the process's catalog, which
// Versions, LookupVersion and LookupRelease read. It is built on first use;
// an error from load is returned by every lookup.
func UseCatalog(load func() (*Catalog, error)) {
	defaultCatalog.mu.Lock()
	defer defaultCatalog.mu.Unlock()
	defaultCatalog.load, defaultCatalog.built = load, false
	defaultCatalog.cat, defaultCatalog.err = nil, nil
}

// DefaultCatalog returns the process's catalog (see UseCatalog).
func DefaultCatalog() (*Catalog, error) {
	c := &defaultCatalog
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.load == nil {
		return nil, errors.New("no release manifests: the program must link package annotations, which embeds them")
	}
	if !c.built {
		c.cat, c.err = c.load()
		if c.err == nil && c.cat == nil {
			c.err = errors.New("no release manifests")
		}
		c.built = true
	}
	return c.cat, c.err
}

// Versions returns the supported releases, oldest first; none when the
// process's catalog cannot be built (LookupVersion says why).
func Versions() []Version {
	c, err := DefaultCatalog()
	if err != nil {
		return nil
	}
	return c.Versions()
}

// VersionNames returns the names of Versions: "16.4", "17.1".
func VersionNames() []string {
	c, err := DefaultCatalog()
	if err != nil {
		return nil
	}
	return c.Names()
}

// LookupRelease returns the supported release named name (see
// Catalog.Lookup).
func LookupRelease(name string) (*Release, error) {
	c, err := DefaultCatalog()
	if err != nil {
		return nil, err
	}
	return c.Lookup(name)
}

// LookupVersion returns the supported release named name (see
// Catalog.Lookup) as a Version.
func LookupVersion(name string) (Version, error) {
	r, err := LookupRelease(name)
	if err != nil {
		return Version{}, err
	}
	return r.Version, nil
}
