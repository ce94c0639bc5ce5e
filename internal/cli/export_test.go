package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
)

func TestExportFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   ExitCode
		wantErr    string
		wantFormat string
		wantLang   string
	}{
		{name: "defaults", args: []string{"--version", "16.4"}, wantFormat: "md", wantLang: "en"},
		{name: "html korean", args: []string{"--version", "17", "--format", "html", "--lang", "ko"}, wantFormat: "html", wantLang: "ko"},
		{name: "codetour to a file", args: []string{"--version", "REL_16_4", "--format", "codetour", "--out", "x.tour"}, wantFormat: "codetour", wantLang: "en"},
		{name: "no version", args: []string{"--format", "md"}, wantCode: ExitUsage, wantErr: "--version is required"},
		{name: "bad version", args: []string{"--version", "15"}, wantCode: ExitUsage, wantErr: `unsupported PostgreSQL version "15"`},
		{name: "bad format", args: []string{"--version", "16.4", "--format", "pdf"}, wantCode: ExitUsage, wantErr: `unknown export format "pdf" (formats: md, html, slides, codetour)`},
		{name: "bad lang", args: []string{"--version", "16.4", "--lang", "jp"}, wantCode: ExitUsage, wantErr: `unknown language "jp"`},
		{name: "stray argument", args: []string{"--version", "16.4", "html"}, wantCode: ExitUsage, wantErr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *ExportOptions
			cmd := NewCmdExport(NewFactory(io), func(o *ExportOptions) error { got = o; return nil })
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
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if got == nil || got.Format != tt.wantFormat || got.Lang != tt.wantLang {
				t.Errorf("options %+v, want format %s lang %s", got, tt.wantFormat, tt.wantLang)
			}
		})
	}
}

// runExportCmd runs `pgwalk export args` with stdin and returns what it
// printed and the exit code.
func runExportCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, code ExitCode) {
	t.Helper()
	io, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	cmd := NewCmdExport(NewFactory(io), nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), exitCodeFor(err)
}

// narrated16 is a made-up stop in the format of pgwalk run --output json.
const narrated16 = `{"seq":3,"connection":1,"phase":"fork","version":"16.4","driver":"narrate","process":"postmaster","values":{"fork_return":4243,"child_pid":4243},"title":"Fork","refs":[]}` + "\n"

func TestExportRun(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "run.jsonl")
	if err := os.WriteFile(events, []byte(narrated16), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode ExitCode
		want     []string // in stdout, or in the -o file
		wantErr  string   // in stderr
		outFile  string
	}{
		{name: "md", args: []string{"--version", "16.4"}, want: []string{"## Phase 3/5 · Fork", "postmaster.c#L4165-L4168"}},
		{name: "md with events", args: []string{"--version", "16.4", "--events", events}, want: []string{"### Observed at stop 3", "`fork_return` = 4243"}},
		{name: "events from stdin", stdin: narrated16, args: []string{"--version", "16.4", "--events", "-"}, want: []string{"`child_pid` = 4243"}},
		{name: "html to a file", args: []string{"--version", "17.1", "--format", "html", "--out", filepath.Join(dir, "h.html")}, outFile: filepath.Join(dir, "h.html"),
			want: []string{"<!DOCTYPE html>", `id="fork-failure"`}, wantErr: "wrote " + filepath.Join(dir, "h.html")},
		{name: "codetour", args: []string{"--version", "16.4", "--format", "codetour"}, want: []string{`"ref": "REL_16_4"`, `"file": "src/backend/postmaster/fork_process.c"`}},
		{name: "events of another version", args: []string{"--version", "17.1", "--events", events}, wantCode: ExitUsage, wantErr: "from PostgreSQL 16.4, not 17.1"},
		{name: "missing events file", args: []string{"--version", "16.4", "--events", filepath.Join(dir, "nope.jsonl")}, wantCode: ExitUsage, wantErr: "--events"},
		{name: "bad events", stdin: "not json\n", args: []string{"--version", "16.4", "--events", "-"}, wantCode: ExitUsage, wantErr: "line 1: not a stop"},
		{name: "unwritable output", args: []string{"--version", "16.4", "--out", filepath.Join(dir, "no", "such", "dir.md")}, wantCode: ExitFailure, wantErr: "writing the md export"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runExportCmd(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, errOut)
			}
			if tt.outFile != "" {
				data, err := os.ReadFile(tt.outFile)
				if err != nil {
					t.Fatal(err)
				}
				if out != "" {
					t.Errorf("stdout %q, want nothing with -o", out)
				}
				out = string(data)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("document lacks %q", w)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want %q", errOut, tt.wantErr)
			}
		})
	}
}
