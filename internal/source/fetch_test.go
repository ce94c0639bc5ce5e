package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// fakeGitHub serves files by "/<tag>/<path>"; a path in slow blocks until
// the request is cancelled.
func fakeGitHub(t *testing.T, files map[string]string, slow map[string]bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow[r.URL.Path] {
			// Until the client gives up, which the test expects it to
			// do within its timeout; the minute only bounds a client
			// that never gives up (the test then fails on the answer).
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetch(t *testing.T) {
	notes := allNotes(fixtureNotes(t), v16)
	good := map[string]string{
		"/REL_16_4/" + demoPath:  demoC,
		"/REL_16_4/" + otherPath: otherC,
	}
	edited := strings.Replace(demoC, "t->window = window;", "t->window = window + 1;", 1)
	tests := []struct {
		name    string
		files   map[string]string
		slow    map[string]bool
		timeout time.Duration
		check   func(t *testing.T, err error)
	}{
		{
			name:  "good files",
			files: good,
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "a cited range differs",
			files: map[string]string{"/REL_16_4/" + demoPath: edited, "/REL_16_4/" + otherPath: otherC},
			check: func(t *testing.T, err error) {
				var rm *RangeMismatchError
				if !errors.As(err, &rm) {
					t.Fatalf("err = %v, want a RangeMismatchError", err)
				}
				msg := err.Error()
				for _, want := range []string{"en/16.4/fork.md", "ko/16.4/fork.md", demoPath, "lines 12-20", hashOf(t, demoC, 12, 20), hashOf(t, edited, 12, 20)} {
					if !strings.Contains(msg, want) {
						t.Errorf("error does not name %q:\n%s", want, msg)
					}
				}
			},
		},
		{
			name:  "not found",
			files: map[string]string{"/REL_16_4/" + demoPath: demoC},
			check: func(t *testing.T, err error) {
				var hs *HTTPStatusError
				if !errors.As(err, &hs) || hs.StatusCode != http.StatusNotFound || !strings.HasSuffix(hs.URL, "/REL_16_4/"+otherPath) {
					t.Fatalf("err = %v, want a 404 for %s", err, otherPath)
				}
			},
		},
		{
			name:    "slow server",
			files:   good,
			slow:    map[string]bool{"/REL_16_4/" + otherPath: true},
			timeout: 50 * time.Millisecond,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want a timeout", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeGitHub(t, tt.files, tt.slow)
			cache := t.TempDir()
			s := Open(Options{CacheDir: cache, BaseURL: srv.URL + "/", HTTPClient: srv.Client(), Timeout: tt.timeout})
			err := s.Fetch(context.Background(), v16, notes)
			tt.check(t, err)
			_, _, ferr := s.File(context.Background(), v16, demoPath)
			if err != nil {
				// Nothing may be cached after a failed fetch.
				if !errors.Is(ferr, ErrNoSource) {
					t.Errorf("after a failed fetch, File: %v, want ErrNoSource", ferr)
				}
				if entries, _ := os.ReadDir(cache); len(entries) != 0 {
					t.Errorf("the cache holds %d entries after a failed fetch", len(entries))
				}
				return
			}
			if ferr != nil {
				t.Fatalf("after fetching, File: %v", ferr)
			}
			got, err := os.ReadFile(filepath.Join(cache, "REL_16_4", filepath.FromSlash(demoPath)))
			if err != nil || string(got) != demoC {
				t.Errorf("cached demo.c: %v", err)
			}
		})
	}
}

func TestFetchReplacesTheCache(t *testing.T) {
	notes := allNotes(fixtureNotes(t), v16)
	srv := fakeGitHub(t, map[string]string{"/REL_16_4/" + demoPath: demoC, "/REL_16_4/" + otherPath: otherC}, nil)
	cache := t.TempDir()
	stale := filepath.Join(cache, "REL_16_4", "stale.c")
	writeTree(t, cache, map[string]string{"REL_16_4/stale.c": "old\n", "REL_16_4/" + demoPath: "old\n"})
	s := Open(Options{CacheDir: cache, BaseURL: srv.URL, HTTPClient: srv.Client()})
	if _, err := s.Available(context.Background(), v16); err != nil {
		t.Fatal(err)
	}
	if lines, _, _ := s.File(context.Background(), v16, demoPath); len(lines) != 1 {
		t.Fatalf("before the fetch, demo.c has %d lines", len(lines))
	}
	if err := s.Fetch(context.Background(), v16, notes); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a file of the old cache survived: %v", err)
	}
	lines, _, err := s.File(context.Background(), v16, demoPath)
	if err != nil || len(lines) != 24 {
		t.Errorf("after the fetch, File = %d lines, %v (stale memo?)", len(lines), err)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want only REL_16_4", len(entries))
	}
}

func TestFetchNeedsNotes(t *testing.T) {
	s := Open(Options{CacheDir: t.TempDir(), BaseURL: "http://127.0.0.1:1"})
	if err := s.Fetch(context.Background(), v17, allNotes(fixtureNotes(t), v16)); err == nil {
		t.Fatal("Fetch of a version no note cites succeeded")
	}
}

// pinnedV16 returns 16.4 with a manifest that pins demo.c by the SHA-256 of
// text (and cites demo.c and other.c).
func pinnedV16(t *testing.T, text string) walkthrough.Version {
	t.Helper()
	m, err := os.ReadFile("../../annotations/releases/16.4/release.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(m)
	i, j := strings.Index(s, "files:\n"), strings.Index(s, "\nfacts:\n")
	if i < 0 || j < i {
		t.Fatal("16.4's manifest has no files: ... facts: part")
	}
	pinned := fmt.Sprintf("files:\n  - %s\n  - %s\nfile_sha256:\n  %s: %x\n", demoPath, otherPath, demoPath, sha256.Sum256([]byte(text)))
	r, err := walkthrough.ParseRelease("pinned.yaml", []byte(s[:i]+pinned+s[j:]))
	if err != nil {
		t.Fatal(err)
	}
	return r.Version
}

// TestFetchChecksTheWholeFile: a file the release pins is cached only when
// its whole text has the pinned SHA-256, even when every cited range holds.
func TestFetchChecksTheWholeFile(t *testing.T) {
	notes := allNotes(fixtureNotes(t), v16)
	// A change outside every cited range: the ranges hold, the file differs.
	changed := demoC + "/* a line no note cites */\n"
	srv := fakeGitHub(t, map[string]string{"/REL_16_4/" + demoPath: changed, "/REL_16_4/" + otherPath: otherC}, nil)

	cache := t.TempDir()
	s := Open(Options{CacheDir: cache, BaseURL: srv.URL, HTTPClient: srv.Client()})
	err := s.Fetch(context.Background(), pinnedV16(t, demoC), notes)
	var fh *FileHashError
	if !errors.As(err, &fh) || fh.File != demoPath || fh.Want != fmt.Sprintf("%x", sha256.Sum256([]byte(demoC))) {
		t.Fatalf("err = %v, want a FileHashError for %s", err, demoPath)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the cache holds %d entries after a refused fetch", len(entries))
	}

	// The same file, pinned by its own hash, is cached.
	if err := s.Fetch(context.Background(), pinnedV16(t, changed), notes); err != nil {
		t.Fatalf("a file with the pinned hash: %v", err)
	}
}
