package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// The tests of this file hold pgwalk to its readers' language: every
// message a driver says has a Korean entry, and a run in Korean prints no
// English sentence of pgwalk's own.
//
// A driver that still says something old-style (a fact or a check without
// a catalog key, a Notify line, an `at:` point of its own) is allowed to
// only where testdata/ko_leftovers.txt lists it, by driver and name. The
// list may only shrink: a leftover it does not list fails, and so does an
// entry that a driver no longer says (remove it).

// koRun is one run of a driver in Korean: what it said, raw, and what
// pgwalk printed.
type koRun struct {
	driver, version, scenario string
	events                    []walkthrough.Event
	tells                     []walkthrough.Msg
	said                      []string
	out                       string
	code                      ExitCode
}

// recorder wraps a driver: it keeps what the driver reports, and hands
// the CLI the same stops with the old-style items taken out (see strip),
// so that what pgwalk prints around them can be held to Korean.
type recorder struct {
	walkthrough.Driver
	lang string
	mu   sync.Mutex
	run  *koRun
}

// Observes passes on whether the recorded driver observes anything (a
// narration does not), so that the session checks it as it would the
// driver itself.
func (r *recorder) Observes() bool {
	if o, ok := r.Driver.(walkthrough.Observer); ok {
		return o.Observes()
	}
	return true
}

func (r *recorder) Next(ctx context.Context) (walkthrough.Event, error) {
	ev, err := r.Driver.Next(ctx)
	if err != nil {
		return ev, err
	}
	r.mu.Lock()
	r.run.events = append(r.run.events, ev)
	r.mu.Unlock()
	return strip(ev, r.lang), nil
}

// strip returns ev without what is not pgwalk's own text in lang: the
// old-style facts, checks and point (reported as leftovers instead),
// PostgreSQL's log lines and the operating system's error message.
func strip(ev walkthrough.Event, lang string) walkthrough.Event {
	v := ev.Values
	// Old-style facts and checks keep their place (the plan expects
	// checks at some stops) but lose their English words.
	v.Facts = slices.Clone(v.Facts)
	for i, f := range v.Facts {
		if f.Key == "" {
			v.Facts[i] = walkthrough.Fact{Name: "…", Value: "…"}
		}
	}
	v.Checks = slices.Clone(v.Checks)
	for i, c := range v.Checks {
		if c.Key == "" {
			v.Checks[i] = walkthrough.Check{Name: "…", OK: c.OK}
		}
	}
	// PostgreSQL's log lines stay English: keep their number (the plan
	// expects them at some stops) but not their words.
	if v.Log != nil {
		v.Log = slices.Repeat([]string{"…"}, len(v.Log))
	}
	if v.Errno != nil {
		e := *v.Errno
		e.Message = ""
		v.Errno = &e
	}
	ev.Values = v
	if !catalog.HasPoint(lang, ev.Point) {
		ev.Point = ""
	}
	return ev
}

// placeholderNotes returns the notes of annotations/notes with every body
// replaced by one Korean sentence: the notes are translated files of their
// own (annotations checks them), not pgwalk's code's text.
func placeholderNotes(t testing.TB) *annotations.Set {
	t.Helper()
	root := os.DirFS("../../annotations/notes")
	m := fstest.MapFS{}
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		parts := strings.SplitN(string(data), "---\n", 3)
		if len(parts) != 3 {
			return fmt.Errorf("%s: no front matter", p)
		}
		m[p] = &fstest.MapFile{Data: []byte("---\n" + parts[1] + "---\n노트 본문입니다.\n")}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	set, err := annotations.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// runIn runs `pgwalk run` with driver on v and scenario in lang, plain text
// at a width that wraps no line of pgwalk's, and returns what happened.
func runIn(t *testing.T, notes *annotations.Set, lang, driver string, v walkthrough.Version, scenario string) *koRun {
	t.Helper()
	r := &koRun{driver: driver, version: v.Name, scenario: scenario}
	io, _, out, errOut := iostreams.Test()
	f := NewFactory(io)
	f.Notes = func(string) (*annotations.Set, error) { return notes, nil }
	var mu sync.Mutex
	f.NewDriver = func(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error) {
		opts.Notify = func(line string) {
			mu.Lock()
			defer mu.Unlock()
			r.said = append(r.said, line)
		}
		teller := opts.Teller
		opts.Teller = func(m walkthrough.Msg) {
			mu.Lock()
			r.tells = append(r.tells, m)
			mu.Unlock()
			if teller != nil {
				teller(m)
			}
		}
		d, err := newDriver(name, opts)
		if err != nil {
			return nil, err
		}
		return &recorder{Driver: d, lang: lang, run: r}, nil
	}
	args := []string{"run", "--version", v.Name, "--driver", driver, "--scenario", scenario, "--lang", lang,
		"--style", "notty", "--width", "400", "--source-view", "off"}
	r.code = Execute(context.Background(), f, args)
	r.out = out.String() + errOut.String()
	return r
}

// collectKoRuns runs every driver that can run here, on every release and
// scenario it supports, in Korean. partial names the drivers that could
// not run on some release here (no PostgreSQL of that version, say); a
// release a driver refuses (UnsupportedError) is no gap: it says nothing.
func collectKoRuns(t *testing.T) (runs []*koRun, partial map[string]bool) {
	t.Helper()
	notes := placeholderNotes(t)
	partial = map[string]bool{}
	for _, d := range Drivers() {
		for _, v := range walkthrough.Versions() {
			if d.Find != nil {
				if _, _, err := d.Find(v); err != nil {
					t.Logf("%s cannot run %s here: %v", d.Name, v.Name, err)
					partial[d.Name] = true
					continue
				}
			}
			for _, sc := range d.Caps.Scenarios {
				r := runIn(t, notes, "ko", d.Name, v, sc)
				if r.code != ExitOK {
					if strings.Contains(r.out, "does not support PostgreSQL "+v.Name) {
						t.Logf("%s does not support %s: %s", d.Name, v.Name, firstLine(r.out, "does not support"))
						continue
					}
					t.Fatalf("%s %s %s: exit %d:\n%s", d.Name, v.Name, sc, r.code, r.out)
				}
				runs = append(runs, r)
			}
		}
	}
	return runs, partial
}

func firstLine(s, with string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, with) {
			return l
		}
	}
	return ""
}

var (
	koOnce    sync.Once
	koResults []*koRun
	koPartial map[string]bool
)

// allKoRuns returns the Korean runs, made by the first test that asks.
func allKoRuns(t *testing.T) []*koRun {
	t.Helper()
	if testing.Short() {
		t.Skip("runs every driver on every release")
	}
	koOnce.Do(func() { koResults, koPartial = collectKoRuns(t) })
	if len(koResults) == 0 {
		t.Fatal("no driver ran")
	}
	return koResults
}

// TestDriverMessagesInKorean: every point, fact, check and message a
// driver says with a catalog key has an English and a Korean entry, and
// the driver gives every value the entry names.
func TestDriverMessagesInKorean(t *testing.T) {
	for _, r := range allKoRuns(t) {
		name := r.driver + "/" + r.version + "/" + r.scenario
		check := func(what string, m walkthrough.Msg) {
			for _, lang := range catalog.Langs() {
				e, ok := catalog.Lookup(lang, m.Key)
				if !ok {
					t.Errorf("%s: %s %q has no %s entry in the catalog", name, what, m.Key, lang)
					continue
				}
				for _, text := range []string{e.Text, e.One, e.Label, e.Name, e.Detail} {
					for _, p := range catalog.Placeholders(text) {
						if _, ok := m.Args[p]; !ok {
							t.Errorf("%s: %s %q: the %s text names {%s}, which the driver does not give (args %v)", name, what, m.Key, lang, p, m.Args)
						}
					}
				}
			}
		}
		for _, ev := range r.events {
			if ev.PointKey != "" {
				check("point", ev.PointMsg())
			}
			for _, f := range ev.Values.Facts {
				if f.Key != "" {
					check("fact", f.Msg())
				}
			}
			for _, c := range ev.Values.Checks {
				if c.Key != "" {
					check("check", c.Msg())
				}
			}
		}
		for _, m := range r.tells {
			check("message", m)
		}
	}
}

// digits matches the numbers of a line a driver said (pids, ports).
var digits = regexp.MustCompile(`[0-9]+`)

// saysName names a line a driver said for the list: what comes before its
// first colon when that is near the start ("breakpoints"), else its first
// five words; numbers as N, paths as "…".
func saysName(line string) string {
	if i := strings.Index(line, ":"); i > 0 && i <= 40 {
		line = line[:i]
	}
	words := strings.Fields(line)
	if len(words) > 5 {
		words = words[:5]
	}
	for i, w := range words {
		if strings.Contains(w, "/") {
			words[i] = "…"
		}
	}
	return digits.ReplaceAllString(strings.Join(words, " "), "N")
}

// leftovers returns what the run's driver still says old-style, one line
// each: "<driver> fact: <name>", "check: <name>", "point: <text>" (numbers
// as N), "says: <the start of the line>" (see saysName).
func (r *koRun) leftovers() []string {
	seen := map[string]bool{}
	add := func(kind, name string) { seen[r.driver+" "+kind+": "+name] = true }
	for _, ev := range r.events {
		for _, f := range ev.Values.Facts {
			if f.Key == "" {
				add("fact", f.Name)
			}
		}
		for _, c := range ev.Values.Checks {
			if c.Key == "" {
				add("check", c.Name)
			}
		}
		if ev.Point != "" && !catalog.HasPoint("ko", ev.Point) {
			add("point", digits.ReplaceAllString(ev.Point, "N"))
		}
	}
	for _, l := range r.said {
		add("says", saysName(l))
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var updateLeftovers = flag.Bool("update-leftovers", false, "rewrite testdata/ko_leftovers.txt from the drivers that ran")

// leftoversHeader opens testdata/ko_leftovers.txt.
const leftoversHeader = `# What the drivers still say old-style (without a catalog key), and so in
# English in a Korean run: "<driver> fact|check|point|says: <name>" (numbers
# as N). TestKoreanLeftovers fails on anything a driver says old-style that
# is not listed here, and on a line a driver that ran no longer says: this
# list only shrinks. Say it through internal/catalog instead (walkthrough.F,
# walkthrough.C, DriverOptions.Tell), then remove its line.
`

// readLeftovers reads testdata/ko_leftovers.txt.
func readLeftovers(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/ko_leftovers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKoreanLeftovers: what the drivers still say old-style is exactly
// what testdata/ko_leftovers.txt allows. narrate says nothing old-style.
// An entry of a driver that ran on every release and no longer says it
// fails too: remove it, the list only shrinks. Run with -update-leftovers
// to rewrite the list from the drivers that ran (to remove entries, or for
// a driver that could not run before).
func TestKoreanLeftovers(t *testing.T) {
	runs := allKoRuns(t)
	allowed := readLeftovers(t)
	ran := map[string]bool{}
	var got []string
	for _, r := range runs {
		ran[r.driver] = true
		for _, l := range r.leftovers() {
			if !slices.Contains(got, l) {
				got = append(got, l)
			}
		}
	}
	sort.Strings(got)
	if *updateLeftovers {
		keep := slices.Clone(got)
		for _, l := range allowed {
			if d, _, _ := strings.Cut(l, " "); (!ran[d] || koPartial[d]) && !slices.Contains(keep, l) {
				keep = append(keep, l)
			}
		}
		sort.Strings(keep)
		if err := os.WriteFile("testdata/ko_leftovers.txt", []byte(leftoversHeader+strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		allowed = keep
	}
	for _, l := range got {
		if strings.HasPrefix(l, "narrate ") {
			t.Errorf("narrate says something old-style: %s", l)
			continue
		}
		if !slices.Contains(allowed, l) {
			t.Errorf("not in testdata/ko_leftovers.txt (say it with a catalog key instead): %s", l)
		}
	}
	for _, l := range allowed {
		driver, _, _ := strings.Cut(l, " ")
		if ran[driver] && !koPartial[driver] && !slices.Contains(got, l) {
			t.Errorf("testdata/ko_leftovers.txt allows what %s no longer says: remove %q", driver, l)
		}
	}
	byDriver := map[string]int{}
	for _, l := range got {
		d, _, _ := strings.Cut(l, " ")
		byDriver[d]++
	}
	t.Logf("old-style leftovers by driver: %v", byDriver)
}

// TestKoreanRunSaysNoEnglish: a run in Korean prints no English sentence of
// pgwalk's own: headings, labels, the at: lines, what the CLI says around
// the stops, and every fact, check and message a driver says with a
// catalog key. The old-style leftovers are left out (TestKoreanLeftovers
// holds them), and so are the notes, the source lines and PostgreSQL's log
// lines, which are not pgwalk's code's text.
func TestKoreanRunSaysNoEnglish(t *testing.T) {
	for _, r := range allKoRuns(t) {
		if en := catalog.English(r.out); len(en) > 0 {
			t.Errorf("%s %s %s prints English: %q\n%s", r.driver, r.version, r.scenario, en, r.out)
		}
	}
}

// TestPointKeyInJSONAndText: a point a driver says as a catalog message is
// shown in the reader's language after "at:", and written in the JSON in
// English (point), with its key and args for programs.
func TestPointKeyInJSONAndText(t *testing.T) {
	var ev walkthrough.Event
	ev.Phase, ev.Process, ev.Driver = walkthrough.Fork, walkthrough.Postmaster, "reenact"
	ev.SetPoint(walkthrough.M("point.reenact.launched", "launch", "fork_process()"))
	en := catalog.Text("en", ev.PointMsg())
	ko := catalog.Text("ko", ev.PointMsg())
	if en == ko || !strings.Contains(en, "fork_process()") {
		t.Fatalf("the point's texts: en %q, ko %q", en, ko)
	}
	if sub := render.Subheading(ev, "ko"); !strings.Contains(sub, ko) || strings.Contains(sub, en) {
		t.Errorf("Korean subheading %q, want %q", sub, ko)
	}
	if sub := render.Subheading(ev, "en"); !strings.Contains(sub, en) {
		t.Errorf("English subheading %q, want %q", sub, en)
	}
	var b strings.Builder
	if err := render.WriteJSON(&b, render.Stop{Event: ev, Lang: "ko"}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Point     string            `json:"point"`
		PointKey  string            `json:"point_key"`
		PointArgs map[string]string `json:"point_args"`
	}
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Point != en || got.PointKey != "point.reenact.launched" || got.PointArgs["launch"] != "fork_process()" {
		t.Errorf("JSON %s: want point %q with its key and args", b.String(), en)
	}
}

// studyEnglish returns what reads as English (catalog.English) in the
// Korean study material of set and in the Korean glossary of g, in their
// Markdown, where code spans and code blocks are still marked: one line
// per finding, naming the file or term.
func studyEnglish(set *annotations.StudySet, g *annotations.Glossary) []string {
	var out []string
	say := func(where, text string) {
		for _, en := range catalog.English(text) {
			out = append(out, fmt.Sprintf("%s: %q", where, en))
		}
	}
	for _, st := range set.All() {
		if st.Lang != "ko" {
			continue
		}
		for i, q := range st.Questions {
			say(fmt.Sprintf("%s question %d", st.Path, i+1), q)
		}
		say(st.Path+" try", st.Try)
		say(st.Path+" instead", st.Instead)
	}
	if g != nil {
		for _, e := range g.Entries("ko") {
			say("glossary ko "+e.ID+" term", e.TermText.Term)
			say("glossary ko "+e.ID, e.Text)
		}
	}
	sort.Strings(out)
	return out
}

// TestKoreanStudySaysNoEnglish: the Korean study material and glossary,
// which a Korean run shows beside the notes, have no English sentence:
// commands, quoted output, identifiers and the English originals given
// in parentheses after their Korean terms are not sentences.
func TestKoreanStudySaysNoEnglish(t *testing.T) {
	set, err := annotations.DefaultStudy()
	if err != nil {
		t.Fatal(err)
	}
	g, err := annotations.DefaultGlossary()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range set.All() {
		if st.Lang == "ko" {
			n++
		}
	}
	if n == 0 || len(g.Entries("ko")) == 0 {
		t.Fatalf("%d Korean study files, %d Korean glossary entries: nothing to check", n, len(g.Entries("ko")))
	}
	for _, l := range studyEnglish(set, g) {
		t.Error(l)
	}
}

// TestPlantedEnglishIsFound: the checks above find an English sentence
// planted in a Korean study file and in a Korean catalog entry, next to
// what they rightly let through.
func TestPlantedEnglishIsFound(t *testing.T) {
	const file = `phase: child
version: "16.4"
questions:
  - 자식은 왜 데스 파이프 (death pipe)의 쓰기 쪽을 닫을까요? (postmaster.c:2590-2599)
  - 자식은 클라이언트 소켓 (Port, ClientSocket)을 왜 남겨 둘까요?
try: |
  다른 셸에서:

  ` + "```" + `
  kill -0 {child_pid} && echo "backend {child_pid} is alive"
  ` + "```" + `

  "Operation not permitted"도 프로세스가 있다는 뜻입니다. The child closes the listen sockets here.
instead: |
  ` + "`pgwalk run --version 16.4`" + `를 실행하세요.
`
	set, err := annotations.LoadStudy(fstest.MapFS{"ko/16.4/child.yaml": {Data: []byte(file)}})
	if err != nil {
		t.Fatal(err)
	}
	got := studyEnglish(set, nil)
	if len(got) != 1 || !strings.Contains(got[0], "The child closes the listen sockets here") {
		t.Errorf("planted in a study file: found %q, want the one sentence", got)
	}

	// A catalog entry: what TestTranslated (internal/catalog) and the
	// run above check.
	for _, tt := range []struct {
		text string
		bad  bool
	}{
		{"포스트마스터의 fd {fd}. TCP 소켓 127.0.0.1:{port}에서 받아들였습니다", false},
		{`자식은 클라이언트에게 "{message}"라고만 알립니다`, false},
		{"포스트마스터의 fd {fd}, accepted on the TCP socket 127.0.0.1:{port}", true},
		{"자식 슬롯 (the slot it assigned last)", true},
	} {
		if en := catalog.English(catalog.Fill(tt.text, map[string]string{"fd": "7", "port": "5432", "message": "sorry"})); (len(en) > 0) != tt.bad {
			t.Errorf("catalog text %q: English %q, want found %t", tt.text, en, tt.bad)
		}
	}
}
