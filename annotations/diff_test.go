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

// oldPair is the pair of releases pgwalk compared first.
var oldPair = Pair{From: "16.4", To: "17.1"}

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
			got, err := Diff(tt.lang, oldPair, tt.phase)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Diff err = %v, wantErr %t", err, tt.wantErr)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("Diff = %q, want it to contain %q", got, tt.want)
			}
		})
	}
	t.Run("missing everywhere", func(t *testing.T) {
		if HasDiff("en", oldPair, walkthrough.Epilogue) {
			t.Error("HasDiff(en, epilogue) = true")
		}
		if HasDiff("fr", oldPair, walkthrough.Fork) {
			t.Error("HasDiff(fr, fork) = true")
		}
		if HasDiff("en", Pair{From: "17.1", To: "16.4"}, walkthrough.Fork) {
			t.Error("a pair's texts live under its older release first")
		}
		if _, err := Diff("en", Pair{From: "16.4", To: "99.1"}, walkthrough.Fork); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a pair with no texts: %v", err)
		}
	})
	t.Run("unknown phase error is typed", func(t *testing.T) {
		_, err := Diff("en", oldPair, "forks")
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

func TestPairs(t *testing.T) {
	pairs := DiffPairs()
	if !slices.Contains(pairs, oldPair) {
		t.Fatalf("DiffPairs = %v, want %v among them", pairs, oldPair)
	}
	for _, in := range [][2]string{{"16.4", "17.1"}, {"17.1", "16.4"}} {
		if p, err := LookupPair(in[0], in[1]); err != nil || p != oldPair {
			t.Errorf("LookupPair(%s, %s) = %v, %v", in[0], in[1], p, err)
		}
	}
	_, err := LookupPair("16.4", "99.1")
	var nd *NoDiffError
	if !errors.As(err, &nd) || !strings.Contains(err.Error(), "no comparison of 16.4 and 99.1 (comparisons exist for 16.4 and 17.1") {
		t.Errorf("LookupPair(16.4, 99.1) = %v, want a NoDiffError that lists the pairs", err)
	}
	for _, s := range []string{"16.4", "16.4..", "..17.1", "1..2..3"} {
		if _, ok := ParsePair(s); ok {
			t.Errorf("ParsePair(%q) accepted", s)
		}
	}
}

// citedNumbers returns every line number and range the English notes of
// the pair's releases mention, in their bodies or their refs.
func citedNumbers(t *testing.T, pair Pair) map[string]bool {
	t.Helper()
	s := loadDefault(t)
	out := map[string]bool{}
	for _, v := range []string{pair.From, pair.To} {
		for _, n := range s.Notes(v, DefaultLang) {
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

// TestDiffTexts proves, for every pair of releases, that every phase has an
// English and a Korean diff text, that the Korean one keeps the English
// one's identifiers and line numbers, and that every line number cited is
// one the verified notes of the pair's releases cite (in a body, or inside
// a cited range).
func TestDiffTexts(t *testing.T) {
	for _, pair := range DiffPairs() {
		t.Run(pair.String(), func(t *testing.T) { testDiffTexts(t, pair) })
	}
}

func testDiffTexts(t *testing.T, pair Pair) {
	known := citedNumbers(t, pair)
	for _, p := range walkthrough.Phases() {
		t.Run(string(p.ID), func(t *testing.T) {
			for _, lang := range append([]string{DefaultLang}, translations...) {
				if !HasDiff(lang, pair, p.ID) {
					t.Errorf("no %s diff text", lang)
				}
			}
			en, err := Diff(DefaultLang, pair, p.ID)
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
				text, err := Diff(lang, pair, p.ID)
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
				tr, err := Diff(lang, pair, p.ID)
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

// TestDiffFilesNamePhases proves that every diff file lives at
// diff/<lang>/<from>..<to>/<phase>.md, with two releases pgwalk offers,
// the older first, and a phase (a misspelt file would never be shown).
func TestDiffFilesNamePhases(t *testing.T) {
	cat, err := walkthrough.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(diffFS, "diff", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		parts := strings.Split(p, "/")
		if len(parts) != 4 {
			t.Errorf("%s is not at diff/<lang>/<from>..<to>/<phase>.md", p)
			return nil
		}
		if name := strings.TrimSuffix(parts[3], ".md"); !slices.Contains(walkthrough.PhaseIDs(), name) {
			t.Errorf("%s names no phase", p)
		}
		pair, ok := ParsePair(parts[2])
		if !ok {
			t.Errorf("%s: %q is not <from>..<to>", p, parts[2])
			return nil
		}
		from, ferr := cat.Lookup(pair.From)
		to, terr := cat.Lookup(pair.To)
		switch {
		case ferr != nil || terr != nil || from.Version.Name != pair.From || to.Version.Name != pair.To:
			t.Errorf("%s: %s and %s are not both releases pgwalk offers (%v, %v)", p, pair.From, pair.To, ferr, terr)
		case slices.Index(cat.Names(), pair.From) >= slices.Index(cat.Names(), pair.To):
			t.Errorf("%s: the older release comes first", p)
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
