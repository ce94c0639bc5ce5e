package walkthrough

import (
	"strings"
	"testing"
)

// TestManifestFunction checks the whole-function range of every real
// manifest against the range verified in the release text (shared facts:
// `sed -n 'A,Bp' postmaster.c | sha256sum`), and that the fictional release,
// which gives none, parses without one.
func TestManifestFunction(t *testing.T) {
	want := map[string]FunctionRange{
		"16.4": {"src/backend/postmaster/postmaster.c", 4108, 4230, "6da2b63c7e4c776c"},
		"17.1": {"src/backend/postmaster/postmaster.c", 3536, 3630, "0d42564dc59945cb"},
		"18.4": {"src/backend/postmaster/postmaster.c", 3509, 3597, "d5eda160ccefe699"},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			r := parseManifest(t, name)
			if r.Function == nil {
				t.Fatal("the manifest gives no function range")
			}
			if *r.Function != w {
				t.Errorf("function = %+v, want %+v", *r.Function, w)
			}
		})
	}
	if r := parseManifest(t, "99.1"); r.Function != nil {
		t.Errorf("the fictional release has no function range, got %+v", *r.Function)
	}
}

func TestParseReleaseFunction(t *testing.T) {
	base := string(readManifest(t, "99.1"))
	good := "function:\n  file: src/backend/postmaster/childstart.c\n  first: 10\n  last: 40\n  sha256: 0123456789abcdef\n"
	r, err := ParseRelease("m.yaml", []byte(base+good))
	if err != nil {
		t.Fatal(err)
	}
	if r.Function == nil || *r.Function != (FunctionRange{"src/backend/postmaster/childstart.c", 10, 40, "0123456789abcdef"}) {
		t.Fatalf("function = %+v", r.Function)
	}
	tests := []struct{ name, old, new, want string }{
		{"no file", "file: src/backend/postmaster/childstart.c", "file: \"\"", "function.file: missing"},
		{"file not cited", "file: src/backend/postmaster/childstart.c", "file: src/backend/postmaster/other.c", "function.file: src/backend/postmaster/other.c is not one of the release's files"},
		{"line 0", "first: 10", "first: 0", "function.first: line 0"},
		{"inverted", "last: 40", "last: 9", "function.last: inverted range 10-9"},
		{"short hash", "sha256: 0123456789abcdef", "sha256: 0123", "function.sha256"},
		{"upper-case hash", "sha256: 0123456789abcdef", "sha256: 0123456789ABCDEF", "function.sha256"},
		{"unknown field", "  sha256: 0123456789abcdef\n", "  sha256: 0123456789abcdef\n  name: x\n", "field name not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base + strings.Replace(good, tt.old, tt.new, 1)
			_, err := ParseRelease("m.yaml", []byte(in))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "m.yaml: ") {
				t.Errorf("err = %v, want one from m.yaml mentioning %q", err, tt.want)
			}
		})
	}
}
