package annotations

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// studyLangs are the languages every phase's study material is written in.
var studyLangs = []string{"en", "ko"}

// allReleases returns every embedded manifest, offered or still pending
// its notes: study material and glossary cover them all.
func allReleases(t *testing.T) []*walkthrough.Release {
	t.Helper()
	tree, err := openTree(embedded, false)
	if err != nil {
		t.Fatal(err)
	}
	return append(tree.Releases.Releases(), tree.Pending...)
}

func defaultGlossary(t *testing.T) *Glossary {
	t.Helper()
	g, err := DefaultGlossary()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func defaultStudy(t *testing.T) *StudySet {
	t.Helper()
	s, err := DefaultStudy()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plannedValues returns the value keys the stops of phase carry in any plan
// of r.
func plannedValues(r *walkthrough.Release, phase walkthrough.PhaseID) []string {
	var keys []string
	for _, p := range r.Plans {
		for _, st := range p.Stops {
			if st.Phase == phase {
				keys = append(keys, st.Values...)
			}
		}
	}
	return keys
}

// TestStudyEveryPhase checks that every phase of every release has
// questions and an exercise in both languages, that each placeholder names
// a value a stop of that phase carries (the manifest's plan), that both
// languages use the same placeholders and terms, and that every term is in
// the glossary.
func TestStudyEveryPhase(t *testing.T) {
	s := defaultStudy(t)
	g := defaultGlossary(t)
	for _, r := range allReleases(t) {
		for _, p := range walkthrough.Phases() {
			t.Run(r.Version.Name+"/"+string(p.ID), func(t *testing.T) {
				planned := plannedValues(r, p.ID)
				if len(planned) == 0 {
					t.Fatalf("no stop of %s's plans is at %s", r.Version.Name, p.ID)
				}
				var first *Study
				for _, lang := range studyLangs {
					st, fell, ok := s.Get(r.Version.Name, p.ID, lang)
					if !ok || fell {
						t.Errorf("no %s study material (ok %v, fell back %v)", lang, ok, fell)
						continue
					}
					if len(st.Questions) < 2 || len(st.Questions) > 3 || strings.TrimSpace(st.Try) == "" || strings.TrimSpace(st.Instead) == "" {
						t.Errorf("%s: %d questions, try %q, instead %q", st.Path, len(st.Questions), st.Try, st.Instead)
					}
					phs := Placeholders(st.Try)
					if len(phs) == 0 {
						t.Errorf("%s: the exercise uses none of the run's values", st.Path)
					}
					for _, ph := range phs {
						root, _, _ := strings.Cut(ph, ".")
						if !slices.Contains(planned, root) {
							t.Errorf("%s: {%s}: no stop of %s at %s carries %s (plans: %s)", st.Path, ph, r.Version.Name, p.ID, root, strings.Join(planned, ", "))
						}
						if err := PlaceholderPath(ph); err != nil {
							t.Errorf("%s: %v", st.Path, err)
						}
						for _, l := range studyLangs {
							if _, ok := PlaceholderHelp(ph, l); !ok {
								t.Errorf("%s: {%s} has no %s explanation", st.Path, ph, l)
							}
						}
					}
					for _, id := range st.Terms {
						if !g.Has(id) {
							t.Errorf("%s: term %q is not in the glossary", st.Path, id)
						}
					}
					if len(st.Terms) == 0 {
						t.Errorf("%s: names no glossary term", st.Path)
					}
					if first == nil {
						first = st
						continue
					}
					if !slices.Equal(Placeholders(first.Try), phs) {
						t.Errorf("%s uses %v, %s uses %v", first.Path, Placeholders(first.Try), st.Path, phs)
					}
					if !slices.Equal(first.Terms, st.Terms) || len(first.Questions) != len(st.Questions) {
						t.Errorf("%s and %s differ in terms or in the number of questions", first.Path, st.Path)
					}
					if hangulCount(st.Try+strings.Join(st.Questions, "")) == 0 && lang == "ko" {
						t.Errorf("%s is not Korean", st.Path)
					}
				}
			})
		}
	}
}

// TestStudyFilesBelongToReleases checks that no study file is left over for
// a release or phase that does not exist.
func TestStudyFilesBelongToReleases(t *testing.T) {
	names := map[string]bool{}
	for _, r := range allReleases(t) {
		names[r.Version.Name] = true
	}
	for _, st := range defaultStudy(t).All() {
		if !names[st.Version] {
			t.Errorf("%s: no release %s", st.Path, st.Version)
		}
		if !slices.Contains(studyLangs, st.Lang) {
			t.Errorf("%s: language %q", st.Path, st.Lang)
		}
	}
}

// TestGlossaryLinksResolve checks every glossary link of every note and
// study file, in every language: glossary:<id> must name a term.
func TestGlossaryLinksResolve(t *testing.T) {
	g := defaultGlossary(t)
	check := func(path, md string) {
		for _, id := range GlossaryLinks(md) {
			if !g.Has(id) {
				t.Errorf("%s links to glossary:%s, which is no term", path, id)
			}
		}
	}
	err := fs.WalkDir(embedded, "notes", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		data, err := fs.ReadFile(embedded, p)
		check(p, string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range defaultStudy(t).All() {
		check(st.Path, strings.Join(append([]string{st.Try, st.Instead}, st.Questions...), "\n"))
	}
	for _, lang := range g.Langs() {
		for _, e := range g.Entries(lang) {
			check("glossary/"+lang+".yaml:"+e.ID, e.Text)
		}
	}
	if got := GlossaryLinks("see [the slot](glossary:child-slot) and [x](https://example.com)"); !slices.Equal(got, []string{"child-slot"}) {
		t.Errorf("GlossaryLinks = %v", got)
	}
}

func TestPlaceholders(t *testing.T) {
	got := Placeholders("`ls /proc/{child_pid}/fd` {errno.name} {child_pid} ${PATH} {print $1} {Bad} {a-b}")
	if want := []string{"child_pid", "errno.name"}; !slices.Equal(got, want) {
		t.Errorf("Placeholders = %v, want %v", got, want)
	}
}

func TestPlaceholderPath(t *testing.T) {
	tests := []struct {
		ph, err string
	}{
		{"child_pid", ""},
		{"cancel_key", ""},
		{"errno.name", ""},
		{"backend.cancel_key", ""},
		{"client_backend_key.secret_key", ""},
		{"cancel_request.matched", ""},
		{"child_pid_x", `"child_pid_x" is not a key of the stop's values`},
		{"errno", "is not a single value"},
		{"backend_list", "is not a single value"},
		{"fds_after.fd", "fds_after is not an object"},
		{"errno.bogus", `"bogus" is not a key of errno`},
		{"child_pid.x", "child_pid is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.ph, func(t *testing.T) {
			err := PlaceholderPath(tt.ph)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("PlaceholderPath(%q) = %v, want %q", tt.ph, err, tt.err)
			}
		})
	}
}

func TestFill(t *testing.T) {
	key := int32(-1047492124)
	v := walkthrough.Values{
		PostmasterPID: 4242,
		ChildPID:      4243,
		CancelKey:     &key,
		ForkReturn:    walkthrough.Int(0),
		DeadEnd:       walkthrough.Bool(false),
		CanAccept:     "CAC_OK",
		Errno:         &walkthrough.Errno{Code: 11, Name: "EAGAIN"},
		Backend:       &walkthrough.BackendNode{PID: 0, ChildSlot: 7},
	}
	tests := []struct {
		name, text, want string
		ok               bool
	}{
		{"no placeholders", "plain `ls`", "plain `ls`", true},
		{"pids", "ps -p {postmaster_pid},{child_pid}", "ps -p 4242,4243", true},
		{"negative int32", "$(( {cancel_key} & 0xffffffff ))", "$(( -1047492124 & 0xffffffff ))", true},
		{"zero is a value", "fork returned {fork_return}", "fork returned 0", true},
		{"false is a value", "dead end: {dead_end}", "dead end: false", true},
		{"string", "{can_accept}", "CAC_OK", true},
		{"nested", "{errno.name} ({errno.code})", "EAGAIN (11)", true},
		{"nested zero", "pid {backend.pid}, slot {backend.child_slot}", "pid 0, slot 7", true},
		{"missing value", "slot {child_slot}", "slot {child_slot}", false},
		{"one of two missing", "{child_pid} {child_slot}", "{child_pid} {child_slot}", false},
		{"missing object", "{client_backend_key.pid}", "{client_backend_key.pid}", false},
		{"object, not a value", "{errno}", "{errno}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Fill(tt.text, v)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Fill(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStudyMarkdown(t *testing.T) {
	g := defaultGlossary(t)
	st := &Study{
		Questions: []string{"Why?", "How?"},
		Try:       "Run `ls -l /proc/{child_pid}/fd`.",
		Instead:   "Run `ls -l /proc/PID/fd`.",
		Terms:     []string{"death-pipe", "child-slot"},
	}
	filled := walkthrough.Values{ChildPID: 99}
	tests := []struct {
		name     string
		o        StudyOptions
		want     []string
		wantNone []string
	}{
		{"show", StudyOptions{Glossary: g}, []string{
			"## Questions\n\n1. Why?\n2. How?\n", "## Try this\n\nRun `ls -l /proc/{child_pid}/fd`.",
			"`{child_pid}` the new backend's pid", "**Without a run's values.** Run `ls -l /proc/PID/fd`.",
			"**Terms:** postmaster death pipe · PMChildSlot (child slot). `pgwalk glossary TERM` explains each.",
		}, nil},
		{"filled", StudyOptions{Glossary: g, Values: &filled}, []string{"Run `ls -l /proc/99/fd`."}, []string{"{child_pid}", "PID/fd", "In braces"}},
		{"missing", StudyOptions{Glossary: g, Values: &walkthrough.Values{}}, []string{"## Try this\n\nRun `ls -l /proc/PID/fd`."}, []string{"{child_pid}", "Without a run"}},
		{"korean", StudyOptions{Glossary: g, Lang: "ko"}, []string{"## 생각해 볼 질문", "## 직접 해 보기", "`{child_pid}` 새 백엔드의 pid", "**용어:** 포스트마스터 데스 파이프 (death pipe) · PMChildSlot (자식 슬롯)"}, nil},
		{"links and level", StudyOptions{Glossary: g, Level: 3, TermLink: func(id string) string { return "#glossary-" + id }}, []string{"### Questions", "[postmaster death pipe](#glossary-death-pipe) · [PMChildSlot (child slot)](#glossary-child-slot)"}, []string{"pgwalk glossary"}},
		{"no glossary", StudyOptions{}, nil, []string{"Terms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := StudyMarkdown(st, tt.o)
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("lacks %q:\n%s", w, md)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(md, w) {
					t.Errorf("has %q:\n%s", w, md)
				}
			}
		})
	}
	if StudyMarkdown(nil, StudyOptions{}) != "" {
		t.Error("nil study material gives text")
	}
}

func TestLoadStudyRejects(t *testing.T) {
	good := "phase: fork\nversion: \"16.4\"\nterms: [fork-process]\nquestions: [a, b]\ntry: \"ps {child_pid}\"\ninstead: \"ps PID\"\n"
	if _, err := LoadStudy(fstest.MapFS{"en/16.4/fork.yaml": {Data: []byte(good)}}); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	tests := []struct {
		name, path, old, new, want string
	}{
		{"one question", "en/16.4/fork.yaml", "[a, b]", "[a]", "1 questions"},
		{"four questions", "en/16.4/fork.yaml", "[a, b]", "[a, b, c, d]", "4 questions"},
		{"empty question", "en/16.4/fork.yaml", "[a, b]", "[a, \"  \"]", "questions[1]: empty"},
		{"no try", "en/16.4/fork.yaml", "try: \"ps {child_pid}\"", "try: \"\"", "try: missing"},
		{"no instead", "en/16.4/fork.yaml", "instead: \"ps PID\"", "instead: \"\"", "instead: missing"},
		{"placeholder in instead", "en/16.4/fork.yaml", "instead: \"ps PID\"", "instead: \"ps {child_pid}\"", "has the placeholder {child_pid}"},
		{"unknown value", "en/16.4/fork.yaml", "{child_pid}", "{kid_pid}", `"kid_pid" is not a key`},
		{"array value", "en/16.4/fork.yaml", "{child_pid}", "{closed_fds}", "not a single value"},
		{"unknown field", "en/16.4/fork.yaml", "terms:", "answers: [x]\nterms:", "field answers not found"},
		{"unknown phase", "en/16.4/fork.yaml", "phase: fork", "phase: spoon", `unknown phase "spoon"`},
		{"epilogue", "en/16.4/fork.yaml", "phase: fork", "phase: epilogue", `unknown phase "epilogue"`},
		{"file name", "en/16.4/child.yaml", "", "", `"fork" does not match the file name`},
		{"directory", "en/17.1/fork.yaml", "", "", `"16.4" does not match the directory "17.1"`},
		{"layout", "en/fork.yaml", "", "", "must live at <lang>/<version>/<phase>.yaml"},
		{"bad term id", "en/16.4/fork.yaml", "[fork-process]", "[Fork_Process]", "is not a glossary id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(good, tt.old, tt.new, 1)
			_, err := LoadStudy(fstest.MapFS{tt.path: {Data: []byte(data)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestGlossaryTerms checks the glossary has the terms issue 14 asks for and
// every term the notes rely on, in both languages.
func TestGlossaryTerms(t *testing.T) {
	g := defaultGlossary(t)
	if got := g.Langs(); !slices.Equal(got, studyLangs) {
		t.Errorf("glossary languages %v, want %v", got, studyLangs)
	}
	for _, id := range []string{
		"postmaster", "backend", "child-slot", "dead-end-child", "exec-backend", "backend-key-data",
		"cancel-key", "death-pipe", "child-list", "child-record", "can-accept-connections",
		"close-postmaster-ports", "fork-process", "postmaster-child-launch", "init-postmaster-child",
		"cancel-request", "startup-packet", "listen-socket", "client-socket", "server-loop", "backend-startup",
	} {
		if !g.Has(id) {
			t.Errorf("no glossary term %q", id)
		}
	}
	for _, e := range g.Entries("ko") {
		if e.FellBack || hangulCount(e.Text) == 0 {
			t.Errorf("%s: the Korean text is missing or not Korean", e.ID)
		}
	}
	names := map[string]bool{}
	for _, r := range allReleases(t) {
		names[r.Version.Name] = true
	}
	for _, term := range g.Terms() {
		for _, c := range term.Cites {
			if !names[c.Release] {
				t.Errorf("%s cites release %s, which has no manifest", term.ID, c.Release)
			}
		}
	}
}

func TestGlossaryLookup(t *testing.T) {
	g := defaultGlossary(t)
	tests := []struct {
		q, lang, want, name string
		near                []string
	}{
		{q: "postmaster", want: "postmaster", name: "postmaster"},
		{q: "PMChildSlot", want: "child-slot", name: "PMChildSlot (child slot)"},
		{q: "child slot", want: "child-slot"},
		{q: "MyPMChildSlot", want: "child-slot"},
		{q: "BackendList", want: "child-list"},
		{q: "ActiveChildList", want: "child-list"},
		{q: "exec_backend", want: "exec-backend"},
		{q: "Dead-End Child", want: "dead-end-child"},
		{q: "데드엔드 자식", want: "dead-end-child"},
		{q: "dead-end-child", lang: "ko", want: "dead-end-child", name: "데드엔드 자식 (dead-end child)"},
		{q: "CAC_TOOMANY", want: "can-accept-connections"},
		{q: "cancel", near: []string{"cancel-key", "cancel-request"}},
		{q: "spoon"},
		{q: " "},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			e, err := g.Lookup(tt.q, tt.lang)
			if tt.want == "" {
				var u *UnknownTermError
				if !errors.As(err, &u) {
					t.Fatalf("err = %v, want an UnknownTermError", err)
				}
				for _, n := range tt.near {
					if !slices.Contains(u.Near, n) {
						t.Errorf("near = %v, want %s among them", u.Near, n)
					}
				}
				return
			}
			if err != nil || e.Term == nil || e.ID != tt.want {
				t.Fatalf("Lookup(%q) = %+v, %v; want %q", tt.q, e, err, tt.want)
			}
			if tt.name != "" && e.TermText.Term != tt.name {
				t.Errorf("term = %q, want %q", e.TermText.Term, tt.name)
			}
		})
	}
}

func TestLoadGlossaryRejects(t *testing.T) {
	terms := "- id: alpha\n  see: [beta]\n  cites:\n    - {release: \"16.4\", file: src/a.c, first: 1, last: 2, sha256: 0123456789abcdef}\n- id: beta\n"
	texts := "alpha: {term: Alpha, text: A.}\nbeta: {term: Beta, text: B.}\n"
	fsys := func(terms, en, ko string) fstest.MapFS {
		m := fstest.MapFS{"terms.yaml": {Data: []byte(terms)}, "en.yaml": {Data: []byte(en)}}
		if ko != "" {
			m["ko.yaml"] = &fstest.MapFile{Data: []byte(ko)}
		}
		return m
	}
	if g, err := LoadGlossary(fsys(terms, texts, texts)); err != nil || len(g.Terms()) != 2 {
		t.Fatalf("the good glossary: %v", err)
	}
	tests := []struct {
		name          string
		terms, en, ko string
		want          string
	}{
		{"duplicate id", terms + "- id: beta\n", texts, "", `"beta" is listed twice`},
		{"bad id", strings.Replace(terms, "id: beta", "id: Beta", 1), texts, "", `id "Beta"`},
		{"see nothing", strings.Replace(terms, "[beta]", "[gamma]", 1), texts, "", `see "gamma"`},
		{"see itself", strings.Replace(terms, "[beta]", "[alpha]", 1), texts, "", `see "alpha"`},
		{"bad cite hash", strings.Replace(terms, "0123456789abcdef", "0123", 1), texts, "", "sha256"},
		{"bad cite range", strings.Replace(terms, "last: 2", "last: 0", 1), texts, "", "range 1-0"},
		{"bad cite release", strings.Replace(terms, `"16.4"`, `"16"`, 1), texts, "", "release \"16\""},
		{"unknown field", terms + "  notes: x\n", texts, "", "field notes not found"},
		{"missing text", terms, texts, "alpha: {term: Alpha, text: A.}\n", `ko.yaml: no text for "beta"`},
		{"extra text", terms, texts, texts + "gamma: {term: G, text: G.}\n", `"gamma" is not a term`},
		{"empty text", terms, texts, "alpha: {term: Alpha, text: \"\"}\nbeta: {term: Beta, text: B.}\n", "term and text are both required"},
		{"no English", terms, "", "", "en.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fsys(tt.terms, tt.en, tt.ko)
			if tt.en == "" {
				delete(m, "en.yaml")
			}
			_, err := LoadGlossary(m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnwrap(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraph", "one\ntwo\n\nthree\n", "one two\n\nthree\n"},
		{"list items", "- a\n  b\n- c\n1. d\n   e\n", "- a b\n- c\n1. d e\n"},
		{"heading", "# H\ntext\nmore\n", "# H\ntext more\n"},
		{"fence", "x\n```\na\n  b\n```\ny\nz\n", "x\n```\na\n  b\n```\ny z\n"},
		{"no final newline", "a\nb", "a b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unwrap(tt.in); got != tt.want {
				t.Errorf("Unwrap(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestGist(t *testing.T) {
	long := strings.Repeat("word ", 40)
	tests := []struct{ text, want string }{
		{"One sentence. Two.", "One sentence."},
		{"A list:\n\n- x", "A list:"},
		{"Version 16.4 is here. More.", "Version 16.4 is here."},
		{long, strings.TrimSpace(strings.Repeat("word ", 20)) + " …"},
	}
	for _, tt := range tests {
		if got := (Entry{TermText: TermText{Text: tt.text}}).Gist(); got != tt.want {
			t.Errorf("Gist(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestTranslationsCiteTheSameLines checks that the Korean glossary and
// study material cite every line number and range the English ones do.
func TestTranslationsCiteTheSameLines(t *testing.T) {
	g := defaultGlossary(t)
	for _, e := range g.Entries(DefaultLang) {
		ko, err := g.Entry(e.ID, "ko")
		if err != nil {
			t.Fatal(err)
		}
		if missing := missingFrom(lineNumberRE, e.Text, ko.Text); len(missing) > 0 {
			t.Errorf("glossary %s: the Korean text lacks %v", e.ID, missing)
		}
	}
	s := defaultStudy(t)
	for _, st := range s.All() {
		if st.Lang != DefaultLang {
			continue
		}
		ko, fell, ok := s.Get(st.Version, st.Phase, "ko")
		if !ok || fell {
			continue // TestStudyEveryPhase reports it
		}
		en := strings.Join(append([]string{st.Try, st.Instead}, st.Questions...), "\n")
		kt := strings.Join(append([]string{ko.Try, ko.Instead}, ko.Questions...), "\n")
		if missing := missingFrom(lineNumberRE, en, kt); len(missing) > 0 {
			t.Errorf("%s: the Korean one lacks %v", st.Path, missing)
		}
	}
}
