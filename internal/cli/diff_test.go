package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// runDiffCmd runs `pgwalk diff args` through the command and returns what it
// printed and the exit code.
func runDiffCmd(t *testing.T, tty bool, args ...string) (stdout, stderr string, code ExitCode) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	io.SetStdoutTTY(tty)
	io.SetWidth(100)
	f := NewFactory(io)
	cmd := NewCmdDiff(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), errOut.String(), exitCodeFor(err)
}

func TestDiffFlags(t *testing.T) {
	// Without --from and --to, diff compares the two newest releases.
	names := walkthrough.VersionNames()
	older, newest := names[len(names)-2], names[len(names)-1]
	tests := []struct {
		name      string
		args      []string
		wantCode  ExitCode
		wantErr   string
		wantFrom  string
		wantTo    string
		wantPhase walkthrough.PhaseID
	}{
		{name: "defaults", args: nil, wantFrom: older, wantTo: newest},
		{name: "reverse", args: []string{"--from", "17.1", "--to", "16.4"}, wantFrom: "17.1", wantTo: "16.4"},
		{name: "majors and tags", args: []string{"--from", "16", "--to", "REL_17_1", "fork"}, wantFrom: "16.4", wantTo: "17.1", wantPhase: walkthrough.Fork},
		{name: "phase by number", args: []string{"4"}, wantFrom: older, wantTo: newest, wantPhase: walkthrough.Child},
		{name: "same version twice", args: []string{"--from", "16.4", "--to", "16"}, wantCode: ExitUsage, wantErr: "--from and --to both name 16.4"},
		{name: "unsupported from", args: []string{"--from", "15.2"}, wantCode: ExitUsage, wantErr: `--from: unsupported PostgreSQL version "15.2"`},
		{name: "unsupported to", args: []string{"--to", "19.0"}, wantCode: ExitUsage, wantErr: `--to: unsupported PostgreSQL version "19.0"`},
		{name: "empty to", args: []string{"--to", ""}, wantCode: ExitUsage, wantErr: "--to needs a version"},
		{name: "unknown phase", args: []string{"forks"}, wantCode: ExitUsage, wantErr: `unknown phase "forks"`},
		{name: "epilogue is no phase", args: []string{"epilogue"}, wantCode: ExitUsage, wantErr: `unknown phase "epilogue"`},
		{name: "two phases", args: []string{"fork", "child"}, wantCode: ExitUsage, wantErr: "at most one phase"},
		{name: "bad output", args: []string{"--output", "yaml"}, wantCode: ExitUsage, wantErr: "unknown output format"},
		{name: "bad lang", args: []string{"--lang", "fr"}, wantCode: ExitUsage, wantErr: `unknown language "fr"`},
		{name: "bad style", args: []string{"--style", "neon"}, wantCode: ExitUsage, wantErr: `unknown style "neon"`},
		{name: "bad width", args: []string{"--width", "10"}, wantCode: ExitUsage, wantErr: "must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *DiffOptions
			cmd := NewCmdDiff(NewFactory(io), func(o *DiffOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			err := cmd.Execute()
			if code := exitCodeFor(err); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.wantCode)
			}
			if tt.wantCode != ExitOK {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if got != nil {
					t.Error("runF was called despite the error")
				}
				return
			}
			if got == nil {
				t.Fatal("runF was not called")
			}
			if got.From.Name != tt.wantFrom || got.To.Name != tt.wantTo {
				t.Errorf("from %s to %s, want %s to %s", got.From.Name, got.To.Name, tt.wantFrom, tt.wantTo)
			}
			if p := got.Pair; (p.From != tt.wantFrom || p.To != tt.wantTo) && (p.From != tt.wantTo || p.To != tt.wantFrom) {
				t.Errorf("pair %s for %s and %s", p, tt.wantFrom, tt.wantTo)
			}
			switch {
			case tt.wantPhase == "" && len(got.Phases) != 0:
				t.Errorf("phases = %v, want all", got.Phases)
			case tt.wantPhase != "" && (len(got.Phases) != 1 || got.Phases[0].ID != tt.wantPhase):
				t.Errorf("phases = %v, want [%s]", got.Phases, tt.wantPhase)
			}
		})
	}
}

func TestDiffJSON(t *testing.T) {
	out, stderr, code := runDiffCmd(t, false, "--from", "16.4", "--to", "17.1", "--output", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []DiffPhase
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(rows) != len(walkthrough.Phases()) {
		t.Fatalf("%d phases, want %d", len(rows), len(walkthrough.Phases()))
	}
	for i, p := range walkthrough.Phases() {
		r := rows[i]
		if r.Phase != p.ID {
			t.Errorf("row %d is %s, want %s", i, r.Phase, p.ID)
		}
		if r.From.Version != "16.4" || r.To.Version != "17.1" || r.From.Tag != "REL_16_4" || r.To.Tag != "REL_17_1" {
			t.Errorf("%s: from %+v to %+v", p.ID, r.From, r.To)
		}
		if len(r.From.Refs) == 0 || len(r.To.Refs) == 0 {
			t.Errorf("%s: no refs", p.ID)
		}
		for _, ref := range r.To.Refs {
			if !strings.Contains(ref.Permalink, "/blob/REL_17_1/") {
				t.Errorf("%s: to-permalink %s is not at REL_17_1", p.ID, ref.Permalink)
			}
		}
		if !strings.Contains(r.Changes, "## What changed") {
			t.Errorf("%s: changes lack the What changed section", p.ID)
		}
	}
	// The fork's location: postmaster.c:4165-4168 in 16.4, launch_backend.c in 17.1.
	fork := rows[2]
	if got := fork.From.Refs[0].String(); got != "postmaster.c:4165-4168" {
		t.Errorf("16.4 fork at %s, want postmaster.c:4165-4168", got)
	}
	if got := fork.To.Refs[1].String(); got != "launch_backend.c:219-282" {
		t.Errorf("17.1 fork launcher at %s, want launch_backend.c:219-282", got)
	}
}

// TestDiffJSONDefault: without --from and --to the JSON compares 17.1 and
// 18.4, with every to-permalink at REL_18_4.
func TestDiffJSONDefault(t *testing.T) {
	out, stderr, code := runDiffCmd(t, false, "--output", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []DiffPhase
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(rows) != len(walkthrough.Phases()) {
		t.Fatalf("%d phases, want %d", len(rows), len(walkthrough.Phases()))
	}
	for _, r := range rows {
		if r.From.Version != "17.1" || r.To.Version != "18.4" || r.To.Tag != "REL_18_4" {
			t.Errorf("%s: from %+v to %+v, want 17.1 to 18.4", r.Phase, r.From, r.To)
		}
		for _, ref := range r.To.Refs {
			if !strings.Contains(ref.Permalink, "/blob/REL_18_4/") {
				t.Errorf("%s: to-permalink %s is not at REL_18_4", r.Phase, ref.Permalink)
			}
		}
	}
	if got := rows[2].To.Refs[1].String(); got != "launch_backend.c:216-295" {
		t.Errorf("18.4 fork launcher at %s, want launch_backend.c:216-295", got)
	}
}

func TestDiffText(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		args    []string
		want    []string
		notWant []string
	}{
		{
			name: "one phase piped",
			args: []string{"--from", "16.4", "--to", "17.1", "parent-registration"},
			want: []string{"Phase 5/5 · Parent registration · 16.4 → 17.1", "postmaster.c:4211-4229", "postmaster.c:3611-3629",
				"https://github.com/postgres/postgres/blob/REL_17_1/src/backend/postmaster/postmaster.c#L3611-L3629", "4222 → 3622"},
			notWant: []string{"\x1b[", "Struct creation"},
		},
		{
			name:    "reverse order puts 17.1 first",
			args:    []string{"--from", "17.1", "--to", "16.4", "fork-failure"},
			want:    []string{"Branch · Fork failure · 17.1 → 16.4"},
			notWant: []string{"16.4 → 17.1"},
		},
		{
			name: "korean",
			args: []string{"--from", "16.4", "--to", "17.1", "--lang", "ko", "child"},
			want: []string{"4/5단계 · 자식 프로세스 정리와 시작 · 16.4 → 17.1", "코드 위치", "달라진 점", "launch_backend.c:244-279"},
		},
		{
			name:    "default pair is the two newest",
			args:    []string{"parent-registration"},
			want:    []string{"Phase 5/5 · Parent registration · 17.1 → 18.4", "postmaster.c:3585-3596", "pmchild.c:270-286"},
			notWant: []string{"16.4"},
		},
		{
			name: "every phase",
			args: nil,
			want: []string{"Phase 1/5", "Phase 2/5", "Phase 3/5", "Phase 4/5", "Phase 5/5", "Branch · Fork failure"},
		},
		{
			name: "terminal has colour",
			tty:  true,
			args: []string{"fork", "--style", "dark"},
			want: []string{"\x1b["},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runDiffCmd(t, tt.tty, tt.args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}

func TestDiffMarkdownSides(t *testing.T) {
	row := DiffPhase{Phase: walkthrough.Fork, Title: "Fork",
		From: DiffSide{Version: "17.1", Tag: "REL_17_1"}, To: DiffSide{Version: "16.4", Tag: "REL_16_4"}, Changes: "## What changed\n\nx\n"}
	md := diffMarkdown(row, "Fork", "en")
	i, j := strings.Index(md, "### 17.1"), strings.Index(md, "### 16.4")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the from side must come first:\n%s", md)
	}
	if !strings.HasPrefix(md, "# Phase 3/5 · Fork · 17.1 → 16.4") {
		t.Errorf("heading: %q", strings.SplitN(md, "\n", 2)[0])
	}
}

// TestDiffCompletion: --from and --to offer the releases that have a
// comparison text, with the other flag's release when it is set.
func TestDiffCompletion(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	cmd := NewCmdDiff(NewFactory(io), func(*DiffOptions) error { return nil })
	complete := func(flag string) []string {
		fn, ok := cmd.GetFlagCompletionFunc(flag)
		if !ok {
			t.Fatalf("no completion for --%s", flag)
		}
		got, _ := fn(cmd, nil, "")
		var names []string
		for _, g := range got {
			names = append(names, strings.SplitN(g, "\t", 2)[0])
		}
		return names
	}
	for _, flag := range []string{"from", "to"} {
		if got := complete(flag); !slices.Contains(got, "16.4") || !slices.Contains(got, "17.1") {
			t.Errorf("--%s completes %v", flag, got)
		}
	}
	if err := cmd.Flags().Set("from", "16.4"); err != nil {
		t.Fatal(err)
	}
	if got := complete("to"); slices.Contains(got, "16.4") || !slices.Contains(got, "17.1") {
		t.Errorf("--to after --from 16.4 completes %v, want 16.4's partners", got)
	}
}
