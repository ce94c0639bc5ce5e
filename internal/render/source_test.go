package render

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/source"
)

// demoSnippet cites lines 13-20 (switch_lamp) of the fixture, a toy file
// written for these tests, with context lines around them.
func demoSnippet(t *testing.T, first, last, context int) source.Snippet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "source", "demo.c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ref := annotations.Ref{File: "src/backend/demo/demo.c", First: first, Last: last}
	return source.Range(source.SplitLines(data), ref, context)
}

func TestSourceGolden(t *testing.T) {
	tests := []struct {
		name                 string
		first, last, context int
		style                SourceStyle
	}{
		{"plain", 13, 20, 3, SourceStyle{}},
		{"plain-80", 13, 20, 3, SourceStyle{Width: 80}},
		{"ascii-60", 7, 11, 1, SourceStyle{Width: 60, ASCII: true}},
		{"no-header-tab8", 9, 10, 0, SourceStyle{NoHeader: true, TabWidth: 8}},
		{"out-of-range", 18, 30, 1, SourceStyle{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Source(demoSnippet(t, tt.first, tt.last, tt.context), tt.style)
			if strings.Contains(out, "\x1b") {
				t.Error("plain output holds escape sequences")
			}
			golden(t, "source/"+tt.name, out)
		})
	}
}

func TestSourceWidth(t *testing.T) {
	for _, width := range []int{40, 60, 80, 100} {
		for _, color := range []bool{false, true} {
			out := Source(demoSnippet(t, 1, 20, 0), SourceStyle{Width: width, Color: color})
			for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if w := ansi.StringWidth(line); w > width {
					t.Errorf("width %d, color %v: line %d is %d columns: %q", width, color, i, w, line)
				}
			}
		}
	}
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestSourceColor(t *testing.T) {
	snip := demoSnippet(t, 13, 20, 3)
	plain := Source(snip, SourceStyle{Width: 80})
	for _, tc := range []struct {
		name string
		o    SourceStyle
		want string // a sequence that must appear
	}{
		{"256 colours", SourceStyle{Color: true, Width: 80}, "\x1b[38;5;"},
		{"true colour", SourceStyle{Color: true, TrueColor: true, Width: 80}, "\x1b[38;2;"},
		{"light theme", SourceStyle{Color: true, Width: 80, Theme: SourceTheme("light")}, "\x1b[38;5;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Source(snip, tc.o)
			if !strings.Contains(out, tc.want) {
				t.Errorf("no %q in the coloured output", tc.want)
			}
			// Colour changes nothing but the escape sequences.
			if stripped := sgr.ReplaceAllString(out, ""); stripped != plain {
				t.Errorf("without its colours the output differs from the plain one:\n%s\n---\n%s", stripped, plain)
			}
		})
	}
	t.Run("keywords and comments differ", func(t *testing.T) {
		out := Source(snip, SourceStyle{Color: true, Width: 200})
		kw := colourBefore(out, "return")
		cm := colourBefore(out, "/* nothing")
		if kw == "" || cm == "" || kw == cm {
			t.Errorf("keyword colour %q, comment colour %q", kw, cm)
		}
	})
}

// colourBefore returns the escape sequence right before the first word.
func colourBefore(out, word string) string {
	i := strings.Index(out, word)
	if i < 0 {
		return ""
	}
	m := sgr.FindAllStringIndex(out[:i], -1)
	if len(m) == 0 || m[len(m)-1][1] != i {
		return ""
	}
	return out[m[len(m)-1][0]:i]
}

func TestSrcXterm256(t *testing.T) {
	tests := []struct {
		name    string
		r, g, b int
		want    int
	}{
		{"black", 0, 0, 0, 16},
		{"white", 255, 255, 255, 231},
		{"pure red", 255, 0, 0, 196},
		{"mid grey", 128, 128, 128, 244},
		{"monokai pink", 0xf9, 0x26, 0x72, 197},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := srcXterm256(tt.r, tt.g, tt.b); got != tt.want {
				t.Errorf("srcXterm256(%d,%d,%d) = %d, want %d", tt.r, tt.g, tt.b, got, tt.want)
			}
		})
	}
}
