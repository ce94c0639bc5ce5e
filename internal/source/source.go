// Package source reads the PostgreSQL files that pgwalk's notes cite. The
// repository never contains PostgreSQL's source: a Store reads it at run
// time from a local checkout or git clone (--source DIR), or from a per-tag
// cache that Fetch fills from PostgreSQL's repository and pins with the
// notes' range hashes.
package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// DefaultBaseURL serves PostgreSQL's files by tag: <DefaultBaseURL>/<tag>/<path>.
const DefaultBaseURL = "https://raw.githubusercontent.com/postgres/postgres"

// DefaultTimeout bounds a whole Fetch when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Options says where a Store looks for PostgreSQL's source.
type Options struct {
	// Dir is a PostgreSQL source tree at the release, or a git clone (bare
	// or not) that has the release tag. Empty means: use the cache.
	Dir string
	// CacheDir holds one directory per tag, filled by Fetch. Empty means
	// os.UserCacheDir()/pgwalk/source.
	CacheDir string
	// BaseURL is where Fetch downloads from; empty means DefaultBaseURL.
	BaseURL string
	// HTTPClient is used by Fetch; nil means a client without its own timeout
	// (Timeout and the context bound each Fetch).
	HTTPClient *http.Client
	// Timeout bounds one Fetch; zero means DefaultTimeout.
	Timeout time.Duration
}

// OriginKind says where a file's lines came from.
type OriginKind int

// The places a Store reads from.
const (
	// FromGit is a git clone read at the release tag, without a checkout.
	FromGit OriginKind = iota + 1
	// FromTree is a plain source tree on disk.
	FromTree
	// FromCache is the per-tag cache filled by Fetch.
	FromCache
)

func (k OriginKind) String() string {
	switch k {
	case FromGit:
		return "git"
	case FromTree:
		return "tree"
	case FromCache:
		return "cache"
	}
	return "unknown"
}

// Origin says where a file's lines came from.
type Origin struct {
	Kind OriginKind
	// Dir is the git directory, the tree, or the tag's cache directory.
	Dir string
	// Tag is the release tag the lines belong to.
	Tag string
	// Confirmed is false for a plain tree whose release could not be read
	// from its configure or meson.build.
	Confirmed bool
	// Untagged is the release tag that a git clone lacks when its work
	// tree is read instead.
	Untagged string
	// Warning, when not empty, is one line to show the user.
	Warning string
}

// String returns "git /src/postgres at REL_16_4" and the like.
func (o Origin) String() string {
	switch o.Kind {
	case FromGit:
		return fmt.Sprintf("git %s at %s", o.Dir, o.Tag)
	case FromTree:
		return fmt.Sprintf("tree %s", o.Dir)
	case FromCache:
		return fmt.Sprintf("cache %s", o.Dir)
	}
	return "no source"
}

// ErrNoSource is matched (errors.Is) by every error that means "no source
// is available for this release": no --source and nothing in the cache.
var ErrNoSource = errors.New("no PostgreSQL source available")

// Store reads PostgreSQL files for the supported releases. It remembers
// what it read, and is safe for concurrent use.
type Store struct {
	opts Options

	mu    sync.Mutex
	files map[string]fileEntry
	dirs  map[string]dirEntry
}

type fileEntry struct {
	lines  []string
	origin Origin
	err    error
}

type dirEntry struct {
	origin Origin
	err    error
}

// Open returns a Store that reads as opts says. It does no I/O: problems
// with opts.Dir are reported by the first File or Available.
func Open(opts Options) *Store {
	if opts.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			opts.CacheDir = filepath.Join(dir, "pgwalk", "source")
		}
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Store{opts: opts, files: map[string]fileEntry{}, dirs: map[string]dirEntry{}}
}

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }

// CacheDir returns the cache directory of v's tag, or "" when there is no
// user cache directory.
func (s *Store) CacheDir(v walkthrough.Version) string {
	if s.opts.CacheDir == "" {
		return ""
	}
	return filepath.Join(s.opts.CacheDir, v.Tag)
}

// Available reports where v's files would be read from. It returns an
// error matching ErrNoSource when no source for v is available, a
// *WrongVersionError when opts.Dir is a plain tree of another release, and
// a *NotTreeError when opts.Dir is no PostgreSQL tree.
func (s *Store) Available(ctx context.Context, v walkthrough.Version) (Origin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locate(ctx, v)
}

// locate finds v's source; s.mu is held.
func (s *Store) locate(ctx context.Context, v walkthrough.Version) (Origin, error) {
	if e, ok := s.dirs[v.Tag]; ok {
		return e.origin, e.err
	}
	var o Origin
	var err error
	if s.opts.Dir != "" {
		o, err = locateDir(ctx, s.opts.Dir, v)
	} else {
		o, err = s.locateCache(v)
	}
	if ctx.Err() == nil { // do not remember a cancelled look-up
		s.dirs[v.Tag] = dirEntry{o, err}
	}
	return o, err
}

func (s *Store) locateCache(v walkthrough.Version) (Origin, error) {
	dir := s.CacheDir(v)
	if dir == "" {
		return Origin{}, &NoSourceError{Version: v}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return Origin{}, &NoSourceError{Version: v, CacheDir: s.opts.CacheDir}
	}
	return Origin{Kind: FromCache, Dir: dir, Tag: v.Tag, Confirmed: true}, nil
}

// File returns the lines of path (relative to the PostgreSQL tree, as the
// notes cite it) at release v, without their newlines, and where they came
// from. Line n of the file is element n-1.
func (s *Store) File(ctx context.Context, v walkthrough.Version, path string) ([]string, Origin, error) {
	if !fs.ValidPath(path) || path == "." {
		return nil, Origin{}, fmt.Errorf("source: invalid path %q", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := v.Tag + ":" + path
	if e, ok := s.files[k]; ok {
		return e.lines, e.origin, e.err
	}
	o, err := s.locate(ctx, v)
	if err != nil {
		if errors.Is(err, ErrNoSource) {
			var nse *NoSourceError
			if errors.As(err, &nse) {
				err = &NoSourceError{Version: v, File: path, CacheDir: nse.CacheDir}
			}
		}
		return nil, Origin{}, err
	}
	var data []byte
	switch o.Kind {
	case FromGit:
		data, err = gitBlob(ctx, o.Dir, v.Tag+":"+path)
		if errors.Is(err, fs.ErrNotExist) {
			err = &FileNotFoundError{Path: path, Origin: o}
		}
	default:
		data, err = os.ReadFile(filepath.Join(o.Dir, filepath.FromSlash(path)))
		if errors.Is(err, fs.ErrNotExist) {
			if o.Kind == FromCache {
				err = &NoSourceError{Version: v, File: path, CacheDir: s.opts.CacheDir}
			} else {
				err = &FileNotFoundError{Path: path, Origin: o}
			}
		}
	}
	var lines []string
	if err == nil {
		lines = SplitLines(data)
	}
	if ctx.Err() == nil {
		s.files[k] = fileEntry{lines, o, err}
	}
	if err != nil {
		return nil, Origin{}, err
	}
	return lines, o, nil
}

// SplitLines splits a file into its lines, without their "\n". A last line
// without a newline is a line; a final newline does not start one.
func SplitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(data), "\n")
	return strings.Split(s, "\n")
}

// locateDir decides how to read v from dir: at v's tag when dir is a git
// clone that has it, else as a plain tree.
func locateDir(ctx context.Context, dir string, v walkthrough.Version) (Origin, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Origin{}, fmt.Errorf("source: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Origin{}, &NotDirError{Dir: dir, Err: err}
	}
	if !st.IsDir() {
		return Origin{}, &NotDirError{Dir: dir}
	}
	gitDir, bare := findGitDir(abs)
	if gitDir != "" {
		has, err := gitHasCommit(ctx, gitDir, v.Tag)
		if err != nil {
			return Origin{}, err
		}
		if has {
			o := Origin{Kind: FromGit, Dir: gitDir, Tag: v.Tag, Confirmed: true}
			isTree, err := gitHasTree(ctx, gitDir, v.Tag+":src/backend/postmaster")
			if err != nil {
				return Origin{}, err
			}
			if !isTree {
				return Origin{}, &NotTreeError{Dir: dir, Tag: v.Tag}
			}
			return o, nil
		}
		if bare {
			return Origin{}, &MissingTagError{Dir: dir, Tag: v.Tag}
		}
	}
	if st, err := os.Stat(filepath.Join(abs, "src", "backend", "postmaster")); err != nil || !st.IsDir() {
		return Origin{}, &NotTreeError{Dir: dir}
	}
	o := Origin{Kind: FromTree, Dir: abs, Tag: v.Tag}
	found, from := treeVersion(abs)
	switch {
	case found == "":
		o.Warning = fmt.Sprintf("could not confirm that %s is PostgreSQL %s (no version in configure or meson.build)", dir, v.Name)
	case found != v.Name:
		return Origin{}, &WrongVersionError{Dir: dir, Want: v.Name, Found: found, From: from}
	default:
		o.Confirmed = true
	}
	if gitDir != "" {
		o.Untagged = v.Tag
		note := fmt.Sprintf("%s has no tag %s; reading its work tree", dir, v.Tag)
		if o.Warning != "" {
			note += "; " + o.Warning
		}
		o.Warning = note
	}
	return o, nil
}

// treeVersion reads the release of a plain tree from configure's
// PACKAGE_VERSION='16.4' line or from the version: '16.4' line of
// meson.build's project() call.
func treeVersion(dir string) (version, from string) {
	if v := scanFor(filepath.Join(dir, "configure"), "PACKAGE_VERSION="); v != "" {
		return v, "configure"
	}
	if v := scanFor(filepath.Join(dir, "meson.build"), "version:"); v != "" {
		return v, "meson.build"
	}
	return "", ""
}

// scanFor returns the single-quoted value of the first line of file (among
// its first few thousand) that starts with prefix, leading blanks ignored.
func scanFor(file, prefix string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 0; sc.Scan() && n < 5000; n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(rest, "'") {
			continue
		}
		if v, _, ok := strings.Cut(rest[1:], "'"); ok && v != "" {
			return v
		}
	}
	return ""
}
