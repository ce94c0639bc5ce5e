package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// maxFileSize bounds a downloaded file; PostgreSQL's largest C files are a
// few hundred kilobytes.
const maxFileSize = 16 << 20

// HTTPStatusError says that the server did not return a file.
type HTTPStatusError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

// RangeMismatchError says that a downloaded file does not hold what a note
// cites. Fetch returns it, joined with any others, and caches nothing.
type RangeMismatchError struct {
	// Note is the note's path: en/16.4/fork.md.
	Note   string
	Result RefResult
}

func (e *RangeMismatchError) Error() string {
	r := e.Result
	switch r.Status {
	case OutOfRange:
		return fmt.Sprintf("%s: %s lines %d-%d: out of range (the file has %d lines)", e.Note, r.Ref.File, r.Ref.First, r.Ref.Last, r.FileLines)
	case MissingSymbols:
		return fmt.Sprintf("%s: %s lines %d-%d: symbols not in the range: %s", e.Note, r.Ref.File, r.Ref.First, r.Ref.Last, strings.Join(r.Missing, ", "))
	}
	return fmt.Sprintf("%s: %s lines %d-%d: expected sha256 %s, actual %s", e.Note, r.Ref.File, r.Ref.First, r.Ref.Last, r.Ref.SHA256, r.Actual)
}

// FileHashError says that a downloaded file is not the text the release
// pins: its whole-file SHA-256 differs from the one the release's manifest
// gives. Fetch returns it, joined with any others, and caches nothing.
type FileHashError struct {
	File       string
	Want, Have string
}

func (e *FileHashError) Error() string {
	return fmt.Sprintf("%s: sha256 %s, the release's text has %s", e.File, e.Have, e.Want)
}

// citation is one ref of one note.
type citation struct {
	note string
	ref  annotations.Ref
}

// citations returns, for each file that notes cite for version v, the
// cited ranges with the note that cites them. Notes of other versions are
// ignored.
func citations(v walkthrough.Version, notes []*annotations.Note) (map[string][]citation, []string) {
	byFile := map[string][]citation{}
	for _, n := range notes {
		if n == nil || n.Version != v.Name {
			continue
		}
		for _, r := range n.Refs {
			byFile[r.File] = append(byFile[r.File], citation{note: n.Path, ref: r})
		}
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	return byFile, files
}

// Fetch downloads every file that notes cite for version v, at v's tag,
// from BaseURL/<tag>/<path>, and checks it: the whole file against the
// SHA-256 the release pins it with, where it does (a *FileHashError
// otherwise), and every cited range of v's notes. Only when every range of every file matches does it write the
// files into the cache, replacing the tag's directory in one rename; otherwise it writes nothing and
// returns the *RangeMismatchError of each range that failed (errors.Join).
// Options.Timeout and ctx bound the whole download.
func (s *Store) Fetch(ctx context.Context, v walkthrough.Version, notes []*annotations.Note) error {
	if s.opts.CacheDir == "" {
		return errors.New("source: no user cache directory to fetch into (is $HOME set?)")
	}
	byFile, files := citations(v, notes)
	if len(files) == 0 {
		return fmt.Errorf("source: no note cites a file of PostgreSQL %s", v.Name)
	}
	for _, f := range files {
		if !fs.ValidPath(f) || f == "." {
			return fmt.Errorf("source: a note cites an invalid path %q", f)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	// The release's pins: files whose whole text is known.
	var pins map[string]string
	if r := v.Release(); r != nil {
		pins = r.FileSHA256
	}
	got := make(map[string][]byte, len(files))
	var bad []error
	for _, f := range files {
		data, err := s.download(ctx, v, f)
		if err != nil {
			return err
		}
		if want := pins[f]; want != "" {
			if have := fmt.Sprintf("%x", sha256.Sum256(data)); have != want {
				bad = append(bad, &FileHashError{File: f, Want: want, Have: have})
			}
		}
		lines := SplitLines(data)
		for _, c := range byFile[f] {
			if r := Check(lines, c.ref); !r.OK() {
				bad = append(bad, &RangeMismatchError{Note: c.note, Result: r})
			}
		}
		got[f] = data
	}
	if len(bad) > 0 {
		return fmt.Errorf("source: refusing to cache PostgreSQL %s from %s: %w", v.Name, s.opts.BaseURL, errors.Join(bad...))
	}
	if err := replaceDir(s.CacheDir(v), files, got); err != nil {
		return fmt.Errorf("source: caching PostgreSQL %s: %w", v.Name, err)
	}
	s.mu.Lock()
	for k := range s.files {
		if strings.HasPrefix(k, v.Tag+":") {
			delete(s.files, k)
		}
	}
	delete(s.dirs, v.Tag)
	s.mu.Unlock()
	return nil
}

// download returns the file at path of v's tag.
func (s *Store) download(ctx context.Context, v walkthrough.Version, path string) ([]byte, error) {
	url := s.opts.BaseURL + "/" + v.Tag + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	req.Header.Set("User-Agent", "pgwalk")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source: fetching %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("source: fetching %s: %w", path, &HTTPStatusError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status})
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("source: fetching %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("source: fetching %s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// replaceDir writes files (slash paths, contents in data) into a new
// directory beside dir, then puts it in dir's place, so that a reader sees
// either the old set of files or the new one.
func replaceDir(dir string, files []string, data map[string][]byte) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage) // gone after the rename; cleans up after a failure
	for _, f := range files {
		file := filepath.Join(stage, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := writeFileSync(file, data[f]); err != nil {
			return err
		}
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		old, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".old-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(old)
		if err := os.Rename(dir, filepath.Join(old, "d")); err != nil {
			return err
		}
	}
	return os.Rename(stage, dir)
}

// writeFileSync writes data to file and flushes it to disk.
func writeFileSync(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
