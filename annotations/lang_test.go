package annotations

import (
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// translations are the languages besides English that must cover every note.
var translations = []string{"ko"}

// hangulCount returns how many Hangul letters s holds.
func hangulCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			n++
		}
	}
	return n
}

var (
	inlineCodeRE = regexp.MustCompile("`([^`\n]+)`")
	// lineNumberRE matches the numbers a note cites: three digits or more,
	// alone or as a range (4212-4214).
	lineNumberRE = regexp.MustCompile(`\b\d{3,}(?:-\d{3,})?\b`)
	// fullPermalinkRE matches a whole permalink with its line anchor.
	fullPermalinkRE = regexp.MustCompile(`https://github\.com/postgres/postgres/blob/[^\s)]+#L\d+-L\d+`)
)

// missingFrom returns the matches of re in want that got lacks, each once,
// in the order they first appear in want.
func missingFrom(re *regexp.Regexp, want, got string) []string {
	have := map[string]bool{}
	for _, m := range re.FindAllString(got, -1) {
		have[m] = true
	}
	var out []string
	for _, m := range re.FindAllString(want, -1) {
		if !have[m] && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func TestTranslationCheckers(t *testing.T) {
	tests := []struct {
		name      string
		re        *regexp.Regexp
		want, got string
		missing   []string
	}{
		{"same code spans", inlineCodeRE, "call `fork()` then `free(bn)`", "`free(bn)` 다음 `fork()`", nil},
		{"a code span dropped", inlineCodeRE, "call `fork()` then `free(bn)`", "`fork()`를 호출", []string{"`free(bn)`"}},
		{"code span renamed", inlineCodeRE, "the `cancel_key`", "`취소키`", []string{"`cancel_key`"}},
		{"same line numbers", lineNumberRE, "lines 4212-4214, then 4220", "4220행, 4212-4214행", nil},
		{"a range shortened", lineNumberRE, "lines 4212-4214", "4212행", []string{"4212-4214"}},
		{"a line dropped twice counts once", lineNumberRE, "4171 and 4171", "없음", []string{"4171"}},
		{"small numbers are not line numbers", lineNumberRE, "phases 1 and 2, 4 bytes", "1단계와 2단계", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := missingFrom(tt.re, tt.want, tt.got); !reflect.DeepEqual(got, tt.missing) {
				t.Errorf("missingFrom = %q, want %q", got, tt.missing)
			}
		})
	}
	t.Run("hangul", func(t *testing.T) {
		if n := hangulCount("fork `BackendStartup` 4165"); n != 0 {
			t.Errorf("hangulCount of English = %d, want 0", n)
		}
		if n := hangulCount("포스트마스터 fork"); n != 6 {
			t.Errorf("hangulCount = %d, want 6", n)
		}
	})
}

// TestTranslationsMatchEnglish proves that every translation covers every
// phase of every version with its own note (no fallback), cites exactly the
// English note's ranges, and carries the same permalinks, identifiers and
// line numbers in a body written in the translation's language.
func TestTranslationsMatchEnglish(t *testing.T) {
	s := loadDefault(t)
	for _, lang := range translations {
		if !slices.Contains(s.Langs(), lang) {
			t.Fatalf("no %q notes at all (languages: %v)", lang, s.Langs())
		}
		for _, v := range walkthrough.Versions() {
			if got, want := len(s.Notes(v.Name, lang)), len(walkthrough.Phases()); got != want {
				t.Errorf("%s/%s: %d notes, want %d", lang, v.Name, got, want)
			}
			for _, p := range walkthrough.Phases() {
				t.Run(lang+"/"+v.Name+"/"+string(p.ID), func(t *testing.T) {
					en, _, err := s.Note(v.Name, p.ID, DefaultLang)
					if err != nil {
						t.Fatal(err)
					}
					tr, fellBack, err := s.Note(v.Name, p.ID, lang)
					if err != nil {
						t.Fatal(err)
					}
					if fellBack || tr.Lang != lang {
						t.Fatalf("no %s note: got the %s one (fellBack %t)", lang, tr.Lang, fellBack)
					}
					if tr.Phase != en.Phase || tr.Version != en.Version {
						t.Errorf("front matter names %s/%s, English %s/%s", tr.Version, tr.Phase, en.Version, en.Phase)
					}
					if len(tr.Refs) != len(en.Refs) {
						t.Fatalf("%d refs, English has %d", len(tr.Refs), len(en.Refs))
					}
					for i := range en.Refs {
						a, b := en.Refs[i], tr.Refs[i]
						if a.File != b.File || a.First != b.First || a.Last != b.Last || a.SHA256 != b.SHA256 {
							t.Errorf("refs[%d] = %s %s, English %s %s", i, b, b.SHA256, a, a.SHA256)
						}
						if !slices.Equal(a.Symbols, b.Symbols) {
							t.Errorf("refs[%d].symbols = %v, English %v", i, b.Symbols, a.Symbols)
						}
						if a.Label != b.Label {
							t.Errorf("refs[%d].label = %q, English %q", i, b.Label, a.Label)
						}
					}
					if n := hangulCount(tr.Body); n < len(tr.Body)/20 {
						t.Errorf("the body has %d Hangul letters in %d bytes: not translated?", n, len(tr.Body))
					}
					for _, m := range fullPermalinkRE.FindAllString(en.Body, -1) {
						if !strings.Contains(tr.Body, m) {
							t.Errorf("body lacks the English note's permalink %s", m)
						}
					}
					if extra := missingFrom(fullPermalinkRE, tr.Body, en.Body); len(extra) > 0 {
						t.Errorf("body has permalinks the English note has not: %v", extra)
					}
					if miss := missingFrom(inlineCodeRE, en.Body, tr.Body); len(miss) > 0 {
						t.Errorf("body drops or renames identifiers of the English note: %v", miss)
					}
					if miss := missingFrom(lineNumberRE, en.Body, tr.Body); len(miss) > 0 {
						t.Errorf("body drops line numbers of the English note: %v", miss)
					}
					if extra := missingFrom(lineNumberRE, tr.Body, en.Body); len(extra) > 0 {
						t.Errorf("body cites line numbers the English note does not: %v", extra)
					}
					if m := codeInBold(tr.Body); m != "" {
						t.Errorf("code inside bold (plain styles mangle it): %s", m)
					}
					if bad := wrongTags(tr.Body, v.Tag); len(bad) > 0 {
						t.Errorf("permalinks at %v, want only %s", bad, v.Tag)
					}
					for _, b := range longCBlocks(tr.Body) {
						t.Errorf("fenced block at body line %d has %d lines (at most %d)", b.Start, b.Lines, maxCLines)
					}
					if strings.Count(tr.Body, "\n## ") != strings.Count(en.Body, "\n## ") {
						t.Errorf("%d sections, English has %d", strings.Count(tr.Body, "\n## "), strings.Count(en.Body, "\n## "))
					}
				})
			}
		}
	}
}

// frontMatterWithoutTitle returns the front matter lines of a note file,
// without its title line.
func frontMatterWithoutTitle(data string) []string {
	var out []string
	for i, line := range strings.Split(data, "\n") {
		if i > 0 && line == "---" {
			break
		}
		if !strings.HasPrefix(line, "title:") {
			out = append(out, line)
		}
	}
	return out
}

// TestTranslationFrontMatter proves that a translated note's front matter is
// the English note's, byte for byte, except for the title.
func TestTranslationFrontMatter(t *testing.T) {
	for _, lang := range translations {
		for _, v := range walkthrough.Versions() {
			for _, p := range walkthrough.Phases() {
				name := v.Name + "/" + string(p.ID) + ".md"
				t.Run(lang+"/"+name, func(t *testing.T) {
					en, err := fs.ReadFile(embedded, "notes/"+DefaultLang+"/"+name)
					if err != nil {
						t.Fatal(err)
					}
					tr, err := fs.ReadFile(embedded, "notes/"+lang+"/"+name)
					if err != nil {
						t.Fatal(err)
					}
					a, b := frontMatterWithoutTitle(string(en)), frontMatterWithoutTitle(string(tr))
					if !slices.Equal(a, b) {
						t.Errorf("front matter differs from the English note's:\n%s\nEnglish:\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
					}
				})
			}
		}
	}
	t.Run("checker", func(t *testing.T) {
		a := frontMatterWithoutTitle("---\nphase: fork\ntitle: Fork\nversion: \"16.4\"\n---\nbody\n")
		b := frontMatterWithoutTitle("---\nphase: fork\ntitle: 포크\nversion: \"16.4\"\n---\n다른 본문\n")
		c := frontMatterWithoutTitle("---\nphase: fork\ntitle: Fork\nversion: \"17.1\"\n---\nbody\n")
		if !slices.Equal(a, b) {
			t.Errorf("a different title or body made the front matter differ: %q vs %q", a, b)
		}
		if slices.Equal(a, c) {
			t.Errorf("a different version went unnoticed: %q", c)
		}
	})
}
