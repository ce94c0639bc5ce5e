package source

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/annotations"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one line with newline", "a\n", []string{"a"}},
		{"last line without newline", "a\nb", []string{"a", "b"}},
		{"blank lines kept", "a\n\n\nb\n", []string{"a", "", "", "b"}},
		{"only a newline", "\n", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitLines([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitLines(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRangeHash(t *testing.T) {
	// printf 'alpha\nbeta\n' | sha256sum
	const alphaBeta = "e49c81e2d2f84e25"
	lines := []string{"zero", "alpha", "beta", "gamma"}
	tests := []struct {
		name        string
		first, last int
		want        string
		wantErr     bool
	}{
		{"lines 2-3", 2, 3, alphaBeta, false},
		{"a one-line shift changes it", 1, 2, "", false},
		{"first 0", 0, 2, "", true},
		{"past the end", 3, 5, "", true},
		{"inverted", 3, 2, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RangeHash(lines, tt.first, tt.last)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("RangeHash = %s, want %s", got, tt.want)
			}
			if tt.want == "" && got == alphaBeta {
				t.Errorf("lines %d-%d hash like lines 2-3", tt.first, tt.last)
			}
			if len(got) != 16 {
				t.Errorf("hash %q is not 16 digits", got)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	lines := SplitLines([]byte(demoC))
	good := hashOf(t, demoC, 12, 20)
	ref := func(first, last int, sha string, syms ...string) annotations.Ref {
		return annotations.Ref{File: demoPath, First: first, Last: last, SHA256: sha, Symbols: syms}
	}
	tests := []struct {
		name        string
		ref         annotations.Ref
		want        Status
		wantMissing []string
	}{
		{"ok", ref(12, 20, good, "take_ticket", "next_number", "t->window"), OK, nil},
		{"wrong hash", ref(12, 20, "0123456789abcdef"), Mismatch, nil},
		{"shifted range", ref(11, 19, good), Mismatch, nil},
		{"symbol outside the range", ref(12, 20, good, "main"), MissingSymbols, []string{"main"}},
		{"identifier only as a whole word", ref(12, 20, good, "take", "ticket"), MissingSymbols, []string{"take"}},
		{"mismatch lists missing symbols too", ref(12, 20, "0123456789abcdef", "nowhere"), Mismatch, []string{"nowhere"}},
		{"past the end of the file", ref(20, 30, good), OutOfRange, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(lines, tt.ref)
			if r.Status != tt.want {
				t.Fatalf("Status = %s, want %s (%s)", r.Status, tt.want, r)
			}
			if !reflect.DeepEqual(r.Missing, tt.wantMissing) {
				t.Errorf("Missing = %q, want %q", r.Missing, tt.wantMissing)
			}
			if r.OK() != (tt.want == OK) {
				t.Errorf("OK() = %v", r.OK())
			}
			if tt.want == Mismatch {
				if tt.ref.First == 12 && r.Actual != good {
					t.Errorf("Actual = %s, want %s", r.Actual, good)
				}
				if msg := r.String(); !strings.Contains(msg, r.Actual) || !strings.Contains(msg, tt.ref.SHA256) {
					t.Errorf("String() = %q does not name both hashes", msg)
				}
			}
		})
	}
}

func TestRange(t *testing.T) {
	lines := SplitLines([]byte(demoC))
	tests := []struct {
		name             string
		first, last      int
		context          int
		wantFrom, wantTo int
		wantOut          bool
	}{
		{"with context", 12, 20, 2, 10, 22, false},
		{"context clipped at the top", 1, 2, 3, 1, 5, false},
		{"context clipped at the bottom", 23, 24, 3, 20, 24, false},
		{"no context", 15, 15, 0, 15, 15, false},
		{"partly past the end", 22, 30, 1, 21, 24, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Range(lines, annotations.Ref{File: demoPath, First: tt.first, Last: tt.last}, tt.context)
			if s.OutOfRange != tt.wantOut {
				t.Errorf("OutOfRange = %v", s.OutOfRange)
			}
			if len(s.Lines) == 0 {
				t.Fatal("no lines")
			}
			if from, to := s.Lines[0].Number, s.Lines[len(s.Lines)-1].Number; from != tt.wantFrom || to != tt.wantTo {
				t.Errorf("lines %d-%d, want %d-%d", from, to, tt.wantFrom, tt.wantTo)
			}
			for _, l := range s.Lines {
				if l.Text != lines[l.Number-1] {
					t.Errorf("line %d = %q, want %q", l.Number, l.Text, lines[l.Number-1])
				}
				if want := l.Number >= tt.first && l.Number <= tt.last; l.Cited != want {
					t.Errorf("line %d: Cited = %v, want %v", l.Number, l.Cited, want)
				}
			}
			if s.Total != len(lines) {
				t.Errorf("Total = %d", s.Total)
			}
		})
	}
	t.Run("entirely past the end", func(t *testing.T) {
		s := Range(lines, annotations.Ref{First: 40, Last: 50}, 2)
		if !s.OutOfRange || len(s.Lines) != 0 {
			t.Errorf("got %+v", s)
		}
	})
}

func TestStoreTree(t *testing.T) {
	ctx := context.Background()
	t.Run("confirmed by configure", func(t *testing.T) {
		dir := fixtureTree(t, "16.4")
		lines, o, err := Open(Options{Dir: dir, CacheDir: t.TempDir()}).File(ctx, v16, demoPath)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != FromTree || !o.Confirmed || o.Warning != "" {
			t.Errorf("origin = %+v", o)
		}
		if strings.Join(lines, "\n")+"\n" != demoC {
			t.Errorf("lines differ from the file")
		}
	})
	t.Run("confirmed by meson.build", func(t *testing.T) {
		dir := fixtureTree(t, "")
		writeTree(t, dir, map[string]string{"meson.build": "project('postgresql',\n  ['c'],\n  version: '17.1',\n)\n"})
		o, err := Open(Options{Dir: dir}).Available(ctx, v17)
		if err != nil || !o.Confirmed {
			t.Fatalf("Available = %+v, %v", o, err)
		}
	})
	t.Run("unconfirmed version warns", func(t *testing.T) {
		dir := fixtureTree(t, "")
		_, o, err := Open(Options{Dir: dir}).File(ctx, v16, demoPath)
		if err != nil {
			t.Fatal(err)
		}
		if o.Confirmed || !strings.Contains(o.Warning, "16.4") {
			t.Errorf("origin = %+v, want an unconfirmed tree with a warning", o)
		}
	})
	t.Run("another release", func(t *testing.T) {
		dir := fixtureTree(t, "16.4")
		_, _, err := Open(Options{Dir: dir}).File(ctx, v17, demoPath)
		var wv *WrongVersionError
		if !errors.As(err, &wv) || wv.Found != "16.4" || wv.Want != "17.1" {
			t.Fatalf("err = %v, want a WrongVersionError", err)
		}
	})
	t.Run("not a PostgreSQL tree", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"README": "hello\n"})
		_, _, err := Open(Options{Dir: dir}).File(ctx, v16, demoPath)
		var nt *NotTreeError
		if !errors.As(err, &nt) {
			t.Fatalf("err = %v, want a NotTreeError", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, _, err := Open(Options{Dir: filepath.Join(t.TempDir(), "nope")}).File(ctx, v16, demoPath)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		dir := fixtureTree(t, "16.4")
		_, _, err := Open(Options{Dir: dir}).File(ctx, v16, "src/backend/postmaster/nope.c")
		var nf *FileNotFoundError
		if !errors.As(err, &nf) || errors.Is(err, ErrNoSource) {
			t.Fatalf("err = %v, want a FileNotFoundError", err)
		}
	})
	t.Run("invalid path", func(t *testing.T) {
		dir := fixtureTree(t, "16.4")
		if _, _, err := Open(Options{Dir: dir}).File(ctx, v16, "../etc/passwd"); err == nil {
			t.Fatal("no error for a path outside the tree")
		}
	})
}

func TestStoreGit(t *testing.T) {
	ctx := context.Background()
	repo := fixtureGit(t)
	bare := filepath.Join(t.TempDir(), "bare.git")
	runGit(t, filepath.Dir(bare), "clone", "-q", "--bare", repo, bare)

	for _, tc := range []struct{ name, dir string }{{"work tree", repo}, {"bare clone", bare}} {
		t.Run(tc.name, func(t *testing.T) {
			lines, o, err := Open(Options{Dir: tc.dir}).File(ctx, v16, demoPath)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != FromGit || o.Tag != "REL_16_4" || !o.Confirmed {
				t.Errorf("origin = %+v", o)
			}
			// The work tree was edited after the tag: the tag's text must win.
			if got := strings.Join(lines, "\n") + "\n"; got != demoC {
				t.Errorf("read the work tree, not the tag:\n%s", got)
			}
		})
	}
	t.Run("bare clone without the tag", func(t *testing.T) {
		_, _, err := Open(Options{Dir: bare}).File(ctx, v17, demoPath)
		var mt *MissingTagError
		if !errors.Is(err, ErrNoSource) || !errors.As(err, &mt) {
			t.Fatalf("err = %v, want a MissingTagError matching ErrNoSource", err)
		}
	})
	t.Run("work tree without the tag falls back to the tree", func(t *testing.T) {
		_, o, err := Open(Options{Dir: repo}).File(ctx, v17, demoPath)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != FromTree || o.Confirmed || !strings.Contains(o.Warning, "REL_17_1") {
			t.Errorf("origin = %+v", o)
		}
	})
	t.Run("file missing at the tag", func(t *testing.T) {
		_, _, err := Open(Options{Dir: bare}).File(ctx, v16, "src/backend/postmaster/nope.c")
		var nf *FileNotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want a FileNotFoundError", err)
		}
	})
	t.Run("a tree inside another repository is not that repository", func(t *testing.T) {
		sub := filepath.Join(repo, "sub")
		writeTree(t, sub, map[string]string{demoPath: "int x;\n", "configure": "PACKAGE_VERSION='16.4'\n"})
		lines, o, err := Open(Options{Dir: sub}).File(ctx, v16, demoPath)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != FromTree || len(lines) != 1 {
			t.Errorf("origin = %+v, lines = %q", o, lines)
		}
	})
}

func TestStoreCache(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	t.Run("empty cache", func(t *testing.T) {
		_, _, err := Open(Options{CacheDir: cache}).File(ctx, v16, demoPath)
		var nse *NoSourceError
		if !errors.Is(err, ErrNoSource) || !errors.As(err, &nse) {
			t.Fatalf("err = %v, want ErrNoSource", err)
		}
		if !strings.Contains(err.Error(), "pgwalk source fetch --version 16.4") {
			t.Errorf("the error does not say how to get the source: %v", err)
		}
	})
	writeTree(t, filepath.Join(cache, "REL_16_4"), map[string]string{demoPath: demoC})
	t.Run("cached file", func(t *testing.T) {
		lines, o, err := Open(Options{CacheDir: cache}).File(ctx, v16, demoPath)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != FromCache || len(lines) != 24 {
			t.Errorf("origin = %+v, %d lines", o, len(lines))
		}
	})
	t.Run("file missing from the cache", func(t *testing.T) {
		_, _, err := Open(Options{CacheDir: cache}).File(ctx, v16, otherPath)
		if !errors.Is(err, ErrNoSource) {
			t.Fatalf("err = %v, want ErrNoSource", err)
		}
	})
	t.Run("another tag", func(t *testing.T) {
		if _, err := Open(Options{CacheDir: cache}).Available(ctx, v17); !errors.Is(err, ErrNoSource) {
			t.Fatalf("err = %v, want ErrNoSource", err)
		}
	})
	t.Run("default cache directory", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("XDG_CACHE_HOME", home)
		t.Setenv("HOME", home)
		s := Open(Options{})
		if got := s.CacheDir(v16); !strings.HasPrefix(got, home) || !strings.HasSuffix(got, filepath.Join("pgwalk", "source", "REL_16_4")) {
			t.Errorf("CacheDir = %s", got)
		}
	})
}
