package source

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// NoSourceError says that no source is available for a release.
type NoSourceError struct {
	Version walkthrough.Version
	// File is the file asked for, or empty when the whole release is missing.
	File string
	// CacheDir is where Fetch would put the files; empty when there is no
	// user cache directory.
	CacheDir string
}

func (e *NoSourceError) Error() string {
	what := "PostgreSQL " + e.Version.Name
	if e.File != "" {
		what = e.File + " of " + what
	}
	if e.CacheDir == "" {
		return fmt.Sprintf("no source for %s: pass --source DIR (a PostgreSQL tree or git clone)", what)
	}
	return fmt.Sprintf("no source for %s: pass --source DIR (a PostgreSQL tree or git clone) or run `pgwalk source fetch --version %s`", what, e.Version.Name)
}

// Is reports whether target is ErrNoSource.
func (e *NoSourceError) Is(target error) bool { return target == ErrNoSource }

// NotTreeError says that a --source directory is not a PostgreSQL source tree.
type NotTreeError struct {
	Dir string
	// Tag is set when Dir is a git clone whose tag has no PostgreSQL tree.
	Tag string
}

func (e *NotTreeError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("%s: %s has no src/backend/postmaster: not a PostgreSQL tree", e.Dir, e.Tag)
	}
	return fmt.Sprintf("%s is not a PostgreSQL source tree (no src/backend/postmaster)", e.Dir)
}

// NotDirError says that a --source directory cannot be read as a directory:
// it does not exist, or it is a file.
type NotDirError struct {
	Dir string
	// Err is why it could not be read; nil when it is not a directory.
	Err error
}

func (e *NotDirError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("%s: no such directory", e.Dir)
	}
	if e.Err != nil {
		return fmt.Sprintf("source: %v", e.Err)
	}
	return fmt.Sprintf("source: %s is not a directory", e.Dir)
}

// Unwrap returns why the directory could not be read.
func (e *NotDirError) Unwrap() error { return e.Err }

// WrongVersionError says that a plain source tree is another release.
type WrongVersionError struct {
	Dir   string
	Want  string
	Found string
	// From is the file the release was read from: configure or meson.build.
	From string
}

func (e *WrongVersionError) Error() string {
	return fmt.Sprintf("%s is PostgreSQL %s (per %s), not %s: the notes' line numbers belong to %s", e.Dir, e.Found, e.From, e.Want, e.Want)
}

// FileNotFoundError says that a release has no such file.
type FileNotFoundError struct {
	Path   string
	Origin Origin
}

func (e *FileNotFoundError) Error() string {
	return fmt.Sprintf("%s: no such file in %s", e.Path, e.Origin)
}

// Unwrap lets errors.Is(err, fs.ErrNotExist) match.
func (e *FileNotFoundError) Unwrap() error { return fs.ErrNotExist }

// MissingTagError says that a bare git clone has no tag for the release. It
// matches ErrNoSource: that clone holds no source for the release.
type MissingTagError struct {
	Dir string
	Tag string
}

func (e *MissingTagError) Error() string {
	return fmt.Sprintf("%s has no tag %s (fetch the tags: git -C %s fetch --tags)", e.Dir, e.Tag, e.Dir)
}

// Is reports whether target is ErrNoSource.
func (e *MissingTagError) Is(target error) bool { return target == ErrNoSource }
