package render

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// paragraph is one long paragraph, written over several source lines the
// way the notes are.
const paragraph = `The postmaster has just accepted a TCP or Unix-socket connection.
In 16.4 ServerLoop builds a Port for it (ConnCreate) and calls BackendStartup
at postmaster.c:1782. Nothing has been forked yet: everything in phases 1 and
2 runs in the postmaster. A debugger must stop on ServerLoop or on the
functions it calls, since BackendStartup is inlined (see postmaster.c:5272-5279
in 17.1).`

// TestWrapOnce renders a long paragraph at width 60: every line fits, no
// line ends in a blank, no word is lost or split, and a line breaks only
// where the next word would not have fitted on it.
func TestWrapOnce(t *testing.T) {
	for _, style := range []string{"notty", "dark"} {
		t.Run(style, func(t *testing.T) {
			const width = 60
			r, err := New(Options{Style: style, Width: width, Color: style == "dark"})
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.Document(paragraph)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				plain := ansi.Strip(l)
				if strings.HasSuffix(plain, " ") {
					t.Errorf("line ends in a blank: %q", plain)
				}
				if w := ansi.StringWidth(l); w > width {
					t.Errorf("line is %d columns, wider than %d: %q", w, width, plain)
				}
				if strings.TrimSpace(plain) != "" {
					lines = append(lines, plain)
				}
			}
			if len(lines) < 4 {
				t.Fatalf("a paragraph of %d characters in %d lines of %d columns:\n%s", len(paragraph), len(lines), width, out)
			}
			if got, want := strings.Fields(strings.Join(lines, " ")), strings.Fields(paragraph); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("words changed:\n got %q\nwant %q", got, want)
			}
			for i := 0; i+1 < len(lines); i++ {
				next := strings.Fields(lines[i+1])[0]
				if fits := ansi.StringWidth(lines[i]) + 1 + ansi.StringWidth(next); fits <= width {
					t.Errorf("line %d broke early: %q would have taken %q (%d columns)", i+1, lines[i], next, fits)
				}
			}
		})
	}
}

func TestWrapLine(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		width int
		want  []string
	}{
		{"fits", "  short line   ", 20, []string{"  short line"}},
		{"indent kept", "  aaaa bbbb cccc dddd", 12, []string{"  aaaa bbbb", "  cccc dddd"}},
		{"bullet hangs", "  • aaaa bbbb cccc", 12, []string{"  • aaaa", "    bbbb", "    cccc"}},
		{"number hangs", "  12. aaaa bbbb", 11, []string{"  12. aaaa", "      bbbb"}},
		{"quote bar repeats", "  │ aaaa bbbb", 9, []string{"  │ aaaa", "  │ bbbb"}},
		{"long word is cut", "  abcdefghijkl", 8, []string{"  abcdef", "  ghijkl"}},
		{"wide characters", "가나다 라마바", 8, []string{"가나다", "라마바"}},
		{"blanks at a break go", "aaaa    bbbb", 6, []string{"aaaa", "bbbb"}},
		{"style closed and opened again", "\x1b[1maaaa bbbb\x1b[0m", 6, []string{"\x1b[1maaaa\x1b[0m", "\x1b[1mbbbb\x1b[0m"}},
		{"a comma stays with its padded code span", "xx code , yy", 8, []string{"xx", "code ,", "yy"}},
		{"a bracket stays with what it opens", "aaaa ( code )", 8, []string{"aaaa", "( code )"}},
		{"escapes among trailing blanks kept", "ab \x1b[0m  ", 10, []string{"ab\x1b[0m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wrapLine(tt.in, tt.width)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("wrapLine(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
			}
		})
	}
}

func TestUnwrapSoftBreaks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"one\ntwo\n", "one two\n"},
		{"hard  \nbreak\n", "hard  \nbreak\n"},
		{"- item\n  goes on\n- next\n", "- item goes on\n- next\n"},
		{"> quote\n> goes on\n", "> quote goes on\n"},
		{"```\ncode\nlines\n```\n", "```\ncode\nlines\n```\n"},
		{"para\n\nnext\n", "para\n\nnext\n"},
	}
	for _, tt := range tests {
		if got := unwrapSoftBreaks(tt.in); got != tt.want {
			t.Errorf("unwrapSoftBreaks(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
