package export

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

func v164(t *testing.T) walkthrough.Version {
	t.Helper()
	v, err := walkthrough.LookupVersion("16.4")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func defaultNotes(t *testing.T) *annotations.Set {
	t.Helper()
	s, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// toySet returns notes for every phase of 16.4 in English, written for these
// tests: each cites one made-up range of toy.c, and body and title are
// given per phase by f.
func toySet(t *testing.T, f func(p walkthrough.Phase) (title, body string)) *annotations.Set {
	t.Helper()
	files := fstest.MapFS{}
	for i, p := range walkthrough.Phases() {
		title, body := f(p)
		files["en/16.4/"+string(p.ID)+".md"] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"---\nphase: %s\ntitle: %q\nversion: \"16.4\"\nrefs:\n  - file: src/toy/toy.c\n    first: %d\n    last: %d\n    sha256: 0123456789abcdef\n    symbols: [sheep]\n    label: toy range %d\n  - file: src/toy/other.c\n    first: 7\n    last: 7\n    sha256: 0123456789abcdef\n---\n%s\n",
			p.ID, title, 10*i+1, 10*i+5, i, body))}
	}
	s, err := annotations.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// toyEvents returns a made-up run of 16.4 with the normal sequence and the
// closing check.
func toyEvents() []walkthrough.Event {
	key := int32(0x1234567)
	var out []walkthrough.Event
	for i, ph := range []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration, walkthrough.Epilogue} {
		ev := walkthrough.Event{Seq: i + 1, Connection: 1, Phase: ph, Version: "16.4", Driver: "toy", Process: walkthrough.Postmaster, PID: 100, Point: "toy point " + fmt.Sprint(i+1)}
		ev.Values.PostmasterPID = 100
		switch ph {
		case walkthrough.StructInit:
			ev.Values.CancelKey = &key
		case walkthrough.Child:
			ev.Process, ev.PID = walkthrough.Backend, 101
			ev.Values.ClosedFDs = []walkthrough.FD{{Num: 5, Kind: walkthrough.FDListenSocket}}
		case walkthrough.Fork:
			ev.Values.ForkReturn = walkthrough.Int(101)
		}
		out = append(out, ev)
	}
	return out
}

func TestReadEvents(t *testing.T) {
	good := `{"seq":1,"connection":1,"phase":"fork","version":"16.4","driver":"narrate","process":"postmaster","values":{"fork_return":7},"title":"Fork","refs":[]}`
	tests := []struct {
		name     string
		in       string
		wantN    int
		wantLine int // 0: no EventsError expected
		wantErr  string
	}{
		{"one stop", good + "\n", 1, 0, ""},
		{"blank lines skipped", "\n" + good + "\n\n" + good + "\n", 2, 0, ""},
		{"epilogue", `{"seq":6,"phase":"epilogue","version":"16.4","values":{}}`, 1, 0, ""},
		{"not json", good + "\nPhase 1/5\n", 0, 2, "not a stop"},
		{"no phase", `{"seq":1,"values":{}}`, 0, 1, "names no phase"},
		{"unknown phase", `{"seq":1,"phase":"forking","values":{}}`, 0, 1, `unknown phase "forking"`},
		{"phase number", `{"seq":1,"phase":"3","values":{}}`, 0, 1, `unknown phase "3"`},
		{"empty", "\n\n", 0, 0, "no stops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := ReadEvents(strings.NewReader(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != tt.wantN {
					t.Errorf("%d events, want %d", len(evs), tt.wantN)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var ee *EventsError
			if got := errors.As(err, &ee); got != (tt.wantLine > 0) || (got && ee.Line != tt.wantLine) {
				t.Errorf("err = %#v, want an EventsError at line %d", err, tt.wantLine)
			}
		})
	}
	t.Run("values decoded", func(t *testing.T) {
		evs, err := ReadEvents(strings.NewReader(good))
		if err != nil {
			t.Fatal(err)
		}
		if fr := evs[0].Values.ForkReturn; fr == nil || *fr != 7 || evs[0].Phase != walkthrough.Fork || evs[0].Driver != "narrate" {
			t.Errorf("decoded %+v", evs[0])
		}
	})
}

func TestShiftHeadings(t *testing.T) {
	tests := []struct {
		name, in string
		by       int
		want     string
	}{
		{"one level", "## A\ntext\n### B", 1, "### A\ntext\n#### B"},
		{"none", "## A", 0, "## A"},
		{"capped at six", "##### A", 3, "###### A"},
		{"not a heading", "#hashtag and C #define", 1, "#hashtag and C #define"},
		{"inside a fence", "```\n# comment\n```\n# H", 1, "```\n# comment\n```\n## H"},
		{"tilde fence", "~~~sh\n# root prompt\n~~~", 2, "~~~sh\n# root prompt\n~~~"},
		{"bare hashes", "##", 1, "###"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shiftHeadings(tt.in, tt.by); got != tt.want {
				t.Errorf("shiftHeadings(%q, %d) = %q, want %q", tt.in, tt.by, got, tt.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	t.Run("events of another version", func(t *testing.T) {
		evs := toyEvents()
		evs[2].Version = "17.1"
		_, err := build(Input{Version: v164(t), Notes: defaultNotes(t), Events: evs})
		var vm *VersionMismatchError
		if !errors.As(err, &vm) || vm.Got != "17.1" || vm.Seq != 3 {
			t.Fatalf("err = %v, want a VersionMismatchError for stop 3", err)
		}
	})
	t.Run("no notes", func(t *testing.T) {
		if _, err := build(Input{Version: v164(t)}); err == nil {
			t.Fatal("build without notes succeeded")
		}
	})
	t.Run("stops go to their phase", func(t *testing.T) {
		d, err := build(Input{Version: v164(t), Notes: defaultNotes(t), Events: toyEvents()})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, s := range d.sections {
			got[s.ID()] = len(s.Stops)
		}
		want := map[string]int{"struct-creation": 1, "struct-init": 1, "fork": 2, "child": 1, "parent-registration": 1, "fork-failure": 0, "epilogue": 1}
		for id, n := range want {
			if got[id] != n {
				t.Errorf("%s has %d stops, want %d", id, got[id], n)
			}
		}
		if len(d.sections) != len(walkthrough.Phases())+1 {
			t.Errorf("%d sections, want the phases and the closing check", len(d.sections))
		}
	})
	t.Run("korean falls back per phase", func(t *testing.T) {
		d, err := build(Input{Version: v164(t), Notes: toySet(t, func(p walkthrough.Phase) (string, string) { return p.Title, "body" }), Lang: "ko"})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.FellBack) != len(walkthrough.Phases()) {
			t.Errorf("FellBack = %v, want every phase", d.FellBack)
		}
		md := d.BodyMarkdown(d.sections[0], 2)
		if !strings.Contains(md, `"ko" 노트가 아직 없어`) {
			t.Errorf("no fallback line in %q", md)
		}
	})
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name    string
		in      func(t *testing.T) Input
		want    []string
		notWant []string
	}{
		{
			name: "notes only",
			in:   func(t *testing.T) Input { return Input{Version: v164(t), Notes: defaultNotes(t)} },
			want: []string{
				"# BackendStartup, phase by phase · PostgreSQL 16.4\n",
				"\n## Phase 1/5 · Struct creation\n", "\n## Phase 3/5 · Fork\n", "\n## Phase 5/5 · Parent registration\n", "\n## Branch · Fork failure\n",
				"- [postmaster.c:4211-4229](https://github.com/postgres/postgres/blob/REL_16_4/src/backend/postmaster/postmaster.c#L4211-L4229) · record the child in BackendList\n",
				"\n### What the code does\n",
			},
			notWant: []string{"Observed at stop", "did not reach", "Closing check", "\n## What the code does"},
		},
		{
			name: "with a run",
			in: func(t *testing.T) Input {
				return Input{Version: v164(t), Notes: defaultNotes(t), Events: toyEvents()}
			},
			want: []string{
				"With the values observed in one run of the toy driver: 7 stops, 1 connection.",
				"### Observed at stop 3\n", "### Observed at stop 4\n", "- `fork_return` = 101",
				"- `cancel_key` = 19088743 (0x01234567)",
				"*This run did not take this branch.*",
				"\n## Closing check\n\n### Observed at stop 7\n",
				"fd 5 · listen socket",
			},
			notWant: []string{"## What happened", "This run did not reach this phase."},
		},
		{
			name: "korean",
			in: func(t *testing.T) Input {
				return Input{Version: v164(t), Notes: defaultNotes(t), Lang: "ko", Events: toyEvents()[:2]}
			},
			want: []string{
				"# BackendStartup 단계별 해설 · PostgreSQL 16.4", "\n## 1/5단계 · 구조체 생성\n", "\n## 분기 · fork 실패\n", "**소스**",
				"### 2번째 정지 지점에서 관찰한 값", "*이번 실행은 이 단계에 이르지 않았습니다.*", "정지 지점 2개, 연결 1개",
			},
			notWant: []string{" · allocate the Backend record"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := Markdown(tt.in(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("handout lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(md, w) {
					t.Errorf("handout has %q", w)
				}
			}
		})
	}
	t.Run("phases in order", func(t *testing.T) {
		md, err := Markdown(Input{Version: v164(t), Notes: defaultNotes(t)})
		if err != nil {
			t.Fatal(err)
		}
		last := -1
		for _, p := range walkthrough.Phases() {
			i := strings.Index(md, "· "+p.Title+"\n")
			if i <= last {
				t.Errorf("%s at %d, after the previous phase at %d", p.ID, i, last)
			}
			last = i
		}
	})
}
