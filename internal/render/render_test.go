package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./internal/render -update refreshes it)\n--- got\n%s", path, got)
	}
}

func notty(t testing.TB) *Renderer {
	r, err := New(Options{Style: "notty", Width: 80})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMarkdownGolden renders the fixed Markdown of testdata/markdown (not
// pgwalk's notes: a note edit must not break the renderer's tests; the
// notes are covered by the annotations package's tests) in each style and
// at each width. go test ./internal/render -update rewrites the goldens.
func TestMarkdownGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "markdown", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/markdown: %v", err)
	}
	for _, file := range files {
		md, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".md")
		for _, tc := range []struct {
			style string
			width int
			color bool
		}{{"notty", 80, false}, {"notty", 40, false}, {"ascii", 60, false}, {"dark", 80, true}} {
			t.Run(fmt.Sprintf("%s/%s-%d", name, tc.style, tc.width), func(t *testing.T) {
				r, err := New(Options{Style: tc.style, Width: tc.width, Color: tc.color})
				if err != nil {
					t.Fatal(err)
				}
				out, err := r.Document(string(md))
				if err != nil {
					t.Fatal(err)
				}
				if !tc.color && strings.Contains(out, "\x1b[") {
					t.Error("output without colour carries ANSI escapes")
				}
				if tc.color && !strings.Contains(out, "\x1b[") {
					t.Error("colour output carries no ANSI escapes")
				}
				checkLines(t, out, tc.width)
				golden(t, fmt.Sprintf("markdown/%s.%s-%d", name, tc.style, tc.width), out)
			})
		}
	}
}

// checkLines fails when a line of out ends in a blank, or is wider than
// width without being a listed link address.
func checkLines(t *testing.T, out string, width int) {
	t.Helper()
	for i, l := range strings.Split(out, "\n") {
		plain := ansi.Strip(l)
		if strings.HasSuffix(plain, " ") {
			t.Errorf("line %d ends in a blank: %q", i+1, plain)
		}
		if w := ansi.StringWidth(l); w > width && !strings.Contains(plain, "://") {
			t.Errorf("line %d is %d columns, wider than %d: %q", i+1, w, width, plain)
		}
	}
}

// sampleStop is a stop with every kind of observed value.
func sampleStop() Stop {
	v, _ := walkthrough.LookupVersion("16.4")
	return Stop{
		Version:  v,
		ShowNote: true,
		Event: walkthrough.Event{
			Seq: 5, Connection: 1, Phase: walkthrough.ParentRegistration, Version: "16.4", Driver: "reenact",
			Process: walkthrough.Postmaster, PID: 4100, Point: "after dlist_push_head",
			Values: walkthrough.Values{
				PostmasterPID: 4100, ChildPID: 4101, CancelKey: walkthrough.Int32(-123456789),
				ChildSlot: walkthrough.Int(1), DeadEnd: walkthrough.Bool(false),
				FDsBefore:        []walkthrough.FD{{Num: 3, Kind: walkthrough.FDListenSocket, Target: "socket:[77]"}},
				ClosedFDs:        []walkthrough.FD{{Num: 3, Kind: walkthrough.FDListenSocket}},
				BackendList:      []walkthrough.BackendNode{{PID: 4101, CancelKey: -123456789, ChildSlot: 1, BkendType: "BACKEND_TYPE_NORMAL"}},
				ClientBackendKey: &walkthrough.BackendKey{PID: 4101, SecretKey: -123456789},
				Log:              []string{"DEBUG:  forked new backend, pid=4101 socket=9"},
				Checks:           []walkthrough.Check{{Name: "pid matches", OK: true, Detail: "4101 = 4101"}, {Name: "key matches", OK: false, Detail: "1 != 2"}},
				Facts:            []walkthrough.Fact{{Name: "allocator", Value: "malloc"}},
			},
		},
	}
}

func TestValuesGolden(t *testing.T) {
	r := notty(t)
	out, err := r.Document(ValuesMarkdown(sampleStop().Event, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"child_pid", "4101", "0xf8a432eb", "BACKEND_TYPE_NORMAL", "[ok] pid matches", "[FAILED] key matches", "forked new backend, pid=4101 socket=9", "listen socket"} {
		if !strings.Contains(out, want) {
			t.Errorf("values section lacks %q", want)
		}
	}
	golden(t, "values", out)
}

func TestNarrationSaysNothingRan(t *testing.T) {
	out := ValuesMarkdown(walkthrough.Event{Driver: "narrate"}, true)
	if !strings.Contains(out, "no process ran") {
		t.Errorf("narration must say no process ran: %s", out)
	}
}

func TestHeading(t *testing.T) {
	v, _ := walkthrough.LookupVersion("17.1")
	tests := []struct {
		phase walkthrough.PhaseID
		want  string
	}{
		{walkthrough.StructCreation, "Phase 1/5 · Struct creation · 17.1"},
		{walkthrough.Fork, "Phase 3/5 · Fork · 17.1"},
		{walkthrough.ForkFailure, "Branch · Fork failure · 17.1"},
		{walkthrough.Epilogue, "Closing check · 17.1"},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase), func(t *testing.T) {
			if got := Heading(walkthrough.Event{Phase: tt.phase}, v); got != tt.want {
				t.Errorf("Heading = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONStop(t *testing.T) {
	set, _ := annotations.Default()
	s := sampleStop()
	s.Note, _, _ = set.Note("16.4", s.Event.Phase, "en")
	var b strings.Builder
	if err := WriteJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("one stop must be one line: %q", b.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b.String()), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seq", "connection", "phase", "version", "driver", "process", "pid", "title", "refs", "values"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON stop lacks %q: %s", k, b.String())
		}
	}
	vals := m["values"].(map[string]any)
	if vals["cancel_key"].(float64) != -123456789 || vals["child_pid"].(float64) != 4101 {
		t.Errorf("values wrong: %v", vals)
	}
	if _, ok := vals["errno"]; ok {
		t.Error("an unobserved value must be left out")
	}
	refs := m["refs"].([]any)
	if len(refs) == 0 || !strings.Contains(refs[0].(map[string]any)["permalink"].(string), "REL_16_4") {
		t.Errorf("refs: %v", refs)
	}
}

func TestFootnoteLinks(t *testing.T) {
	md := "See [postmaster.c:1-2](https://example.org/a#L1-L2) and https://example.org/b.\nAgain https://example.org/a#L1-L2\n```\nhttps://in.code/x\n```\n"
	body, links := footnoteLinks(md)
	if len(links) != 2 || links[0] != "https://example.org/a#L1-L2" || links[1] != "https://example.org/b" {
		t.Fatalf("links = %q", links)
	}
	if !strings.Contains(body, "postmaster.c:1-2 [1] and [2].") || !strings.Contains(body, "Again [1]") || !strings.Contains(body, "https://in.code/x") {
		t.Fatalf("body = %q", body)
	}
}

func TestResolveStyle(t *testing.T) {
	tests := []struct {
		style string
		color bool
		want  string
		err   bool
	}{
		{"auto", true, "dark", false}, {"auto", false, "notty", false}, {"light", true, "light", false},
		{"ascii", true, "ascii", false}, {"neon", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			got, err := ResolveStyle(tt.style, tt.color)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("ResolveStyle(%q, %v) = %q, %v", tt.style, tt.color, got, err)
			}
		})
	}
}

// BenchmarkRender compares pgwalk's rendering of every note of a version
// with a bare glamour render of the same Markdown, both with one renderer
// created per run. The target: pgwalk at most 1.2x bare glamour.
func BenchmarkRender(b *testing.B) {
	set, err := annotations.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range walkthrough.Versions() {
		notes := set.Notes(v.Name, annotations.DefaultLang)
		b.Run("glamour/"+v.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tr, err := glamour.NewTermRenderer(glamour.WithStandardStyle("notty"), glamour.WithWordWrap(80))
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range notes {
					if _, err := tr.Render(NoteMarkdown(n, v)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("pgwalk/"+v.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := notty(b)
				for _, n := range notes {
					if _, err := r.Document(NoteMarkdown(n, v)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestStopGolden renders a whole stop (a fixed event and a fixture note,
// with an earlier stop of its connection) as a run prints it off a
// terminal: heading, what is new, the note, every value.
func TestStopGolden(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "markdown", "note.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := sampleStop()
	s.Note = &annotations.Note{Phase: s.Event.Phase, Title: "Parent registration", Version: "16.4", Body: string(body),
		Refs: []annotations.Ref{{File: "src/demo.c", First: 10, Last: 12, SHA256: "0123456789abcdef"}}}
	s.Earlier = []walkthrough.Event{{Connection: 1, Phase: walkthrough.Fork, Values: walkthrough.Values{
		PostmasterPID: 4100, ChildPID: 4101, CancelKey: walkthrough.Int32(-123456789)}}}
	out, err := notty(t).Document(s.Markdown(true))
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, out, 80)
	golden(t, "stop", out)
}

// TestCompactValues checks that the head of a stop lists only what is new
// since the earlier stops of its connection, and every check.
func TestCompactValues(t *testing.T) {
	s := sampleStop()
	s.Earlier = []walkthrough.Event{{Values: walkthrough.Values{PostmasterPID: 4100, ChildPID: 4101, CancelKey: walkthrough.Int32(-123456789),
		Log: []string{"DEBUG:  forked new backend, pid=4101 socket=9"}}}}
	got := CompactValuesMarkdown(s.Event, s.Earlier, true, "en")
	for _, want := range []string{"`child_slot` = 1", "`dead_end` = false", "`closed_fds`: fd 3 listen socket", "`backend_list`: pid 4101",
		"`client_backend_key` = pid 4101", "[ok] pid matches — 4101 = 4101", "[FAILED] key matches — 1 != 2"} {
		if !strings.Contains(got, want) {
			t.Errorf("the head lacks %q:\n%s", want, got)
		}
	}
	for _, known := range []string{"postmaster_pid", "child_pid", "cancel_key`", "forked new backend", "allocator"} {
		if strings.Contains(got, known) {
			t.Errorf("the head repeats %q, seen at an earlier stop (or not a value that changed):\n%s", known, got)
		}
	}
	nothing := CompactValuesMarkdown(walkthrough.Event{Driver: "reenact", Values: walkthrough.Values{PostmasterPID: 4100}},
		[]walkthrough.Event{{Values: walkthrough.Values{PostmasterPID: 4100}}}, true, "en")
	if !strings.Contains(nothing, "Nothing new was observed at this stop (v shows every value)") {
		t.Errorf("a stop with nothing new must say so:\n%s", nothing)
	}
}

// TestKeyedFactsAndChecks: a fact or a check with a catalog key is said
// through the catalog, in the text and in the JSON (name and value filled,
// key and args kept for programs); one without a key is said as it is.
// The stop itself is not changed.
func TestKeyedFactsAndChecks(t *testing.T) {
	ev := walkthrough.Event{Phase: walkthrough.Fork, Process: walkthrough.Postmaster, Driver: "reenact", Values: walkthrough.Values{
		Facts:  []walkthrough.Fact{walkthrough.F("fact.not_in_catalog", "fd", 7), {Name: "old", Value: "style"}},
		Checks: []walkthrough.Check{walkthrough.C(true, "check.not_in_catalog", "pid", 42), {Name: "old check", OK: false, Detail: "1 != 2"}},
	}}
	s := Stop{Event: ev, Lang: "ko"}
	md := s.DetailsMarkdown(true)
	for _, want := range []string{"- fact.not_in_catalog: fd=7", "- old: style"} {
		if !strings.Contains(md, want) {
			t.Errorf("details lack %q:\n%s", want, md)
		}
	}
	head := s.HeadMarkdown(true)
	for _, want := range []string{"- [ok] check.not_in_catalog — pid=42", "- [FAILED] old check — 1 != 2", "## 실제로 일어난 일"} {
		if !strings.Contains(head, want) {
			t.Errorf("head lacks %q:\n%s", want, head)
		}
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	var got JSONStop
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	f := got.Values.Facts[0]
	if f.Key != "fact.not_in_catalog" || f.Args["fd"] != "7" || f.Name != "fact.not_in_catalog" || f.Value != "fd=7" {
		t.Errorf("keyed fact in JSON: %+v", f)
	}
	if f := got.Values.Facts[1]; f.Key != "" || f.Name != "old" || f.Value != "style" {
		t.Errorf("old-style fact in JSON: %+v", f)
	}
	if c := got.Values.Checks[0]; c.Key != "check.not_in_catalog" || c.Name != "check.not_in_catalog" || c.Detail != "pid=42" || !c.OK {
		t.Errorf("keyed check in JSON: %+v", c)
	}
	if ev.Values.Facts[0].Name != "" || ev.Values.Checks[0].Name != "" {
		t.Error("WriteJSON changed the stop's facts or checks")
	}
}

// TestKoreanWords: the words around a stop are Korean with --lang ko,
// the at: line of a manifest too, and a file descriptor's kind.
func TestKoreanWords(t *testing.T) {
	v, err := walkthrough.LookupVersion("16.4")
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := v.Release().Plan("")
	at := plan.Stops[0].At
	ev := walkthrough.Event{Phase: walkthrough.Child, Process: walkthrough.Backend, PID: 7, Connection: 1, Driver: "reenact", Point: at,
		Values: walkthrough.Values{ClosedFDs: []walkthrough.FD{{Num: 3, Kind: walkthrough.FDListenSocket}}}}
	s := Stop{Event: ev, Version: v, Lang: "ko"}
	md := s.HeadMarkdown(false) + s.DetailsMarkdown(false)
	for _, want := range []string{"4/5단계", "backend pid 7 · 연결 1 · 드라이버 reenact", "위치: BackendStartup, postmaster.c:4125: malloc이", "fd 3 리슨 소켓", "fd 3 · 리슨 소켓"} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "listen socket") || strings.Contains(md, "malloc has returned") {
		t.Errorf("English left:\n%s", md)
	}
}
