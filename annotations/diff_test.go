package annotations

import (
	"errors"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestCodeInBold(t *testing.T) {
	tests := []struct{ md, want string }{
		{"**plain** and `code`", ""},
		{"**a** `x` **b**", ""},
		{"**the `Port`.** text", "**the `Port`.**"},
		{"- **x** y\n- **`free`** z", "**`free`**"},
	}
	for _, tt := range tests {
		t.Run(tt.md, func(t *testing.T) {
			if got := codeInBold(tt.md); got != tt.want {
				t.Errorf("codeInBold = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name    string
		lang    string
		phase   walkthrough.PhaseID
		want    string // a substring of the text
		wantErr bool
	}{
		{"english fork", "en", walkthrough.Fork, "postmaster_child_launch", false},
		{"empty lang is english", "", walkthrough.Child, "## What changed", false},
		{"korean child", "ko", walkthrough.Child, "## 달라진 점", false},
		{"unknown lang falls back", "fr", walkthrough.StructInit, "## What changed", false},
		{"unknown phase", "en", "forks", "", true},
		{"phase number is not an id", "en", "3", "", true},
		{"epilogue has no diff", "en", walkthrough.Epilogue, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Diff(tt.lang, tt.phase)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Diff err = %v, wantErr %t", err, tt.wantErr)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("Diff = %q, want it to contain %q", got, tt.want)
			}
		})
	}
	t.Run("missing everywhere", func(t *testing.T) {
		if HasDiff("en", walkthrough.Epilogue) {
			t.Error("HasDiff(en, epilogue) = true")
		}
		if HasDiff("fr", walkthrough.Fork) {
			t.Error("HasDiff(fr, fork) = true")
		}
	})
	t.Run("unknown phase error is typed", func(t *testing.T) {
		_, err := Diff("en", "forks")
		var upe *walkthrough.UnknownPhaseError
		if !errors.As(err, &upe) {
			t.Errorf("err = %T %v, want *walkthrough.UnknownPhaseError", err, err)
		}
	})
}

// boldRE matches bold text, pairing the markers from the left.
var boldRE = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)

// codeInBold returns the first bold text of md that holds a code span.
func codeInBold(md string) string {
	for _, m := range boldRE.FindAllStringSubmatch(md, -1) {
		if strings.Contains(m[1], "`") {
			return m[0]
		}
	}
	return ""
}

// citedNumbers returns every line number and range the English notes of
// every version mention, in their bodies or their refs.
func citedNumbers(t *testing.T) map[string]bool {
	t.Helper()
	s := loadDefault(t)
	out := map[string]bool{}
	for _, v := range walkthrough.Versions() {
		for _, n := range s.Notes(v.Name, DefaultLang) {
			for _, m := range lineNumberRE.FindAllString(n.Body, -1) {
				out[m] = true
				for _, part := range strings.Split(m, "-") {
					out[part] = true
				}
			}
			for _, r := range n.Refs {
				out[strconv.Itoa(r.First)+"-"+strconv.Itoa(r.Last)] = true
				for l := r.First; l <= r.Last; l++ {
					out[strconv.Itoa(l)] = true
				}
			}
		}
	}
	return out
}

// TestDiffTexts proves that every phase has an English and a Korean diff
// text, that the Korean one keeps the English one's identifiers and line
// numbers, and that every line number cited is one the verified notes cite
// (in a body, or inside a cited range).
func TestDiffTexts(t *testing.T) {
	known := citedNumbers(t)
	for _, p := range walkthrough.Phases() {
		t.Run(string(p.ID), func(t *testing.T) {
			for _, lang := range append([]string{DefaultLang}, translations...) {
				if !HasDiff(lang, p.ID) {
					t.Errorf("no %s diff text", lang)
				}
			}
			en, err := Diff(DefaultLang, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"## What changed", "## Why it matters"} {
				if !strings.Contains(en, want) {
					t.Errorf("English text has no %q section", want)
				}
			}
			for _, m := range lineNumberRE.FindAllString(en, -1) {
				if !known[m] {
					t.Errorf("line number %s is cited by no verified note", m)
				}
			}
			for _, lang := range append([]string{DefaultLang}, translations...) {
				text, err := Diff(lang, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				// Glamour's plain styles mangle code spans inside bold text.
				if m := codeInBold(text); m != "" {
					t.Errorf("%s text has code inside bold: %s", lang, m)
				}
			}
			if hangulCount(en) != 0 {
				t.Errorf("English text holds Hangul")
			}
			if b := longCBlocks(en); len(b) > 0 {
				t.Errorf("English text has a long code block")
			}
			for _, lang := range translations {
				tr, err := Diff(lang, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if hangulCount(tr) < len(tr)/20 {
					t.Errorf("%s text is not translated", lang)
				}
				if miss := missingFrom(inlineCodeRE, en, tr); len(miss) > 0 {
					t.Errorf("%s text drops identifiers: %v", lang, miss)
				}
				if miss := missingFrom(lineNumberRE, en, tr); len(miss) > 0 {
					t.Errorf("%s text drops line numbers: %v", lang, miss)
				}
				if extra := missingFrom(lineNumberRE, tr, en); len(extra) > 0 {
					t.Errorf("%s text cites line numbers the English one does not: %v", lang, extra)
				}
				if got, want := strings.Count(tr, "## "), strings.Count(en, "## "); got != want {
					t.Errorf("%s text has %d sections, English %d", lang, got, want)
				}
			}
		})
	}
}

// TestDiffFilesNamePhases proves that no diff file names something that is
// not a phase (a misspelt file would never be shown).
func TestDiffFilesNamePhases(t *testing.T) {
	err := fs.WalkDir(diffFS, "diff", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".md")
		if !slices.Contains(walkthrough.PhaseIDs(), name) {
			t.Errorf("%s names no phase", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The diff texts say that some ranges are byte-identical in both releases;
// the range hashes of the notes must agree.
func TestDiffIdenticalRanges(t *testing.T) {
	s := loadDefault(t)
	tests := []struct {
		phase walkthrough.PhaseID
		label *regexp.Regexp
	}{
		{walkthrough.StructCreation, regexp.MustCompile(`^the Backend struct`)},
		{walkthrough.StructInit, regexp.MustCompile(`^canAcceptConnections$`)},
		{walkthrough.StructInit, regexp.MustCompile(`^RandomCancelKey$`)},
		{walkthrough.Fork, regexp.MustCompile(`then fork\(\)$`)},
	}
	find := func(version string, p walkthrough.PhaseID, re *regexp.Regexp) *Ref {
		n, _, err := s.Note(version, p, DefaultLang)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n.Refs {
			if re.MatchString(n.Refs[i].Label) {
				return &n.Refs[i]
			}
		}
		return nil
	}
	for _, tt := range tests {
		t.Run(string(tt.phase)+"/"+tt.label.String(), func(t *testing.T) {
			a, b := find("16.4", tt.phase, tt.label), find("17.1", tt.phase, tt.label)
			if a == nil || b == nil {
				t.Fatalf("no ref labelled %s in both versions (16.4 %v, 17.1 %v)", tt.label, a, b)
			}
			if a.SHA256 != b.SHA256 {
				t.Errorf("16.4 %s %s and 17.1 %s %s differ: the diff text must not call them identical", a, a.SHA256, b, b.SHA256)
			}
		})
	}
}
