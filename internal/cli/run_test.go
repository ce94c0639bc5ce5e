package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/charmbracelet/glamour"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// TestRunOptions checks what `run` fills in, through runF, without running.
func TestRunOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(*RunOptions) string
		wantErr string
		code    ExitCode
	}{
		{name: "defaults", args: []string{"--version", "16.4"}, check: func(o *RunOptions) string {
			if o.Driver != "reenact" || o.Version.Tag != "REL_16_4" || o.Output != "text" || o.Lang != "en" || o.Scenario != "normal" {
				return "bad defaults"
			}
			return ""
		}},
		{name: "dry run is narration", args: []string{"--version", "17", "--dry-run"}, check: func(o *RunOptions) string {
			if o.Driver != "narrate" || o.Version.Name != "17.1" {
				return "dry-run must select narrate"
			}
			return ""
		}},
		{name: "live with pg-bin", args: []string{"--version", "17.1", "--driver", "live", "--pg-bin", "/x"}, check: func(o *RunOptions) string {
			if o.PGBin != "/x" || o.Driver != "live" {
				return "pg-bin lost"
			}
			return ""
		}},
		{name: "unknown version", args: []string{"--version", "9.6"}, wantErr: `unsupported PostgreSQL version "9.6"`, code: ExitUsage},
		{name: "fork failure with wait", args: []string{"--version", "16.4", "--scenario", "fork-failure", "--wait-for-client"}, check: func(o *RunOptions) string {
			if o.Scenario != "fork-failure" || !o.WaitFor || o.Driver != "reenact" {
				return "a class watches psql get the fork failure: the scenario and --wait-for-client go together"
			}
			return ""
		}},
		{name: "too many clients with wait", args: []string{"--version", "18.4", "--scenario", "too-many-clients", "--wait-for-client"}, check: func(o *RunOptions) string {
			if o.Scenario != "too-many-clients" || !o.WaitFor || o.Driver != "reenact" {
				return "too-many-clients with --wait-for-client lost"
			}
			return ""
		}},
		{name: "negative delay", args: []string{"--version", "16.4", "--delay", "-1s"}, wantErr: "must not be negative", code: ExitUsage},
		{name: "bad source view", args: []string{"--version", "16.4", "--source-view", "maybe"}, wantErr: "use auto, on or off", code: ExitUsage},
		{name: "breakpoints default", args: []string{"--version", "16.4", "--driver", "live"}, check: func(o *RunOptions) string {
			if o.Breakpoints != "auto" {
				return "--breakpoints must default to auto"
			}
			return ""
		}},
		{name: "software breakpoints", args: []string{"--version", "17.1", "--driver", "live", "--breakpoints", "software"}, check: func(o *RunOptions) string {
			if o.Breakpoints != "software" {
				return "--breakpoints lost"
			}
			return ""
		}},
		{name: "bad breakpoints", args: []string{"--version", "16.4", "--driver", "live", "--breakpoints", "int3"}, wantErr: `--breakpoints "int3": use auto, hardware, software`, code: ExitUsage},
		{name: "breakpoints without live", args: []string{"--version", "16.4", "--breakpoints", "hardware"}, wantErr: "--breakpoints is for --driver live", code: ExitUsage},
		{name: "pg-bin without live", args: []string{"--version", "16.4", "--pg-bin", "/x"}, wantErr: "--pg-bin is for --driver live (the reenact driver runs no PostgreSQL)", code: ExitUsage},
		{name: "wait with narrate", args: []string{"--version", "16.4", "--driver", "narrate", "--wait-for-client"}, wantErr: "--wait-for-client needs a driver that runs processes (reenact or live), not narrate", code: ExitUsage},
		{name: "live cannot fill the table", args: []string{"--version", "17.1", "--driver", "live", "--scenario", "too-many-clients"}, wantErr: "--driver live cannot run --scenario too-many-clients: it does not fill a real server's table of children yet (use --driver reenact)", code: ExitUsage},
		{name: "live cannot fail a fork", args: []string{"--version", "16.4", "--driver", "live", "--scenario", "fork-failure"}, wantErr: "--driver live cannot run --scenario fork-failure: it traces what a real server does (use --driver reenact)", code: ExitUsage},
		{name: "dry run with a driver", args: []string{"--version", "16.4", "--driver", "live", "--dry-run"}, wantErr: "--dry-run runs no process and cannot be combined with --driver live", code: ExitUsage},
		{name: "unknown driver", args: []string{"--version", "16.4", "--driver", "gdb"}, wantErr: `unknown driver "gdb" (drivers: reenact, live, narrate)`, code: ExitUsage},
		{name: "unknown scenario", args: []string{"--version", "16.4", "--scenario", "oom"}, wantErr: `unknown scenario "oom" (scenarios: normal, fork-failure, too-many-clients)`, code: ExitUsage},
		{name: "usage error in Korean", args: []string{"--version", "16.4", "--driver", "narrate", "--wait-for-client", "--lang", "ko"}, wantErr: "--wait-for-client에는 프로세스를 실행하는 드라이버(reenact 또는 live)가 필요합니다", code: ExitUsage},
		{name: "unknown language in English", args: []string{"--version", "16.4", "--lang", "fr"}, wantErr: `unknown language "fr" (languages: en, ko)`, code: ExitUsage},
		{name: "listen on a loopback address", args: []string{"--version", "16.4", "--wait-for-client", "--listen", "127.0.0.2", "--port", "5499"}, check: func(o *RunOptions) string {
			if o.Listen != "127.0.0.2" || o.Port != 5499 {
				return "--listen or --port lost"
			}
			if w := listenWarning(o.Listen, o.Port, o.Lang); w != "" {
				return "a loopback address needs no warning: " + w
			}
			return ""
		}},
		{name: "listen beyond this machine", args: []string{"--version", "16.4", "--wait-for-client", "--listen", "0.0.0.0", "--port", "5499"}, check: func(o *RunOptions) string {
			if w := listenWarning(o.Listen, o.Port, o.Lang); !strings.Contains(w, "listening on 0.0.0.0:5499, beyond this machine") || !strings.Contains(w, "startup packet and no more") {
				return "no warning for 0.0.0.0: " + w
			}
			return ""
		}},
		{name: "listen with live", args: []string{"--version", "16.4", "--driver", "live", "--wait-for-client", "--listen", "0.0.0.0"}, wantErr: "--listen and --port are not supported by the live driver (only by reenact)", code: ExitUsage},
		{name: "port with narrate", args: []string{"--version", "16.4", "--driver", "narrate", "--port", "5499"}, wantErr: "--listen and --port are not supported by the narrate driver (only by reenact)", code: ExitUsage},
		{name: "listen without waiting", args: []string{"--version", "16.4", "--listen", "127.0.0.1"}, wantErr: "add --wait-for-client", code: ExitUsage},
		{name: "listen on a name", args: []string{"--version", "16.4", "--wait-for-client", "--listen", "example.com"}, wantErr: "--listen example.com: not an IP address", code: ExitUsage},
		{name: "port out of range", args: []string{"--version", "16.4", "--wait-for-client", "--port", "65536"}, wantErr: "--port 65536: not a TCP port", code: ExitUsage},
		{name: "listen error in Korean", args: []string{"--version", "16.4", "--driver", "live", "--port", "1", "--lang", "ko"}, wantErr: "live 드라이버는 --listen과 --port를 지원하지 않습니다(reenact만 지원합니다)", code: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _, errOut := iostreams.Test()
			f := NewFactory(io)
			var got *RunOptions
			cmd := NewCmdRun(f, func(o *RunOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Out)
			cmd.SetErr(errOut)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if c := exitCodeFor(err); c != tt.code {
					t.Fatalf("exit code %d, want %d", c, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(got); msg != "" {
				t.Errorf("%s: %+v", msg, got)
			}
		})
	}
}

// runJSON runs pgwalk with args and decodes the JSON stops it printed.
func runJSON(t testing.TB, args ...string) ([]render.JSONStop, ExitCode, string) {
	io, _, out, errOut := iostreams.Test()
	code := Execute(context.Background(), NewFactory(io), args)
	var stops []render.JSONStop
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var s render.JSONStop
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		stops = append(stops, s)
	}
	return stops, code, errOut.String()
}

// TestRunEveryDriver is the phase-sequence suite through the CLI: every
// driver that can run here walks the phases in order for every release,
// and reports exactly the stops of the release's plan.
func TestRunEveryDriver(t *testing.T) {
	for _, driver := range []string{"narrate", "reenact", "live"} {
		for _, v := range walkthrough.Versions() {
			t.Run(driver+"/"+v.Name, func(t *testing.T) {
				switch driver {
				case "live":
					skipUnlessLive(t, v.Name)
				case "reenact":
					// A release whose facts the re-enactment cannot follow
					// yet is refused with the reason: see TestRunRefusesUnsupported.
					if err := reenact.Supports(v); err != nil {
						t.Skip(err)
					}
				}
				stops, code, errOut := runJSON(t, "run", "--version", v.Name, "--driver", driver, "--output", "json")
				if code != ExitOK {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				var phases []walkthrough.PhaseID
				var evs []walkthrough.Event
				for _, s := range stops {
					if len(phases) == 0 || phases[len(phases)-1] != s.Phase {
						phases = append(phases, s.Phase)
					}
					evs = append(evs, s.Event)
					if s.Driver != driver || s.Version != v.Name {
						t.Errorf("stop %d stamped %s/%s", s.Seq, s.Driver, s.Version)
					}
					for _, c := range s.Values.Checks {
						if !c.OK {
							t.Errorf("check failed: %s (%s)", c.Name, c.Detail)
						}
					}
				}
				want := []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration}
				if driver != "narrate" {
					want = append(want, walkthrough.Epilogue)
				}
				if strings.Join(ids(phases), ",") != strings.Join(ids(want), ",") {
					t.Fatalf("phases %v, want %v", phases, want)
				}
				plan, err := v.Release().Plan("")
				if err != nil {
					t.Fatal(err)
				}
				if err := plan.Check(evs, driver != "narrate"); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestRunRefusesUnsupported: a release whose facts a driver cannot follow
// is a clear failure that names the fact, never a walk of another release.
func TestRunRefusesUnsupported(t *testing.T) {
	var refused []walkthrough.Version
	for _, v := range walkthrough.Versions() {
		if reenact.Supports(v) != nil {
			refused = append(refused, v)
		}
	}
	if len(refused) == 0 {
		t.Skip("the re-enactment supports every release pgwalk offers")
	}
	for _, v := range refused {
		_, code, errOut := runJSON(t, "run", "--version", v.Name, "--driver", "reenact", "--output", "json")
		if code != ExitFailure || !strings.Contains(errOut, "the reenact driver does not support PostgreSQL "+v.Name) {
			t.Errorf("%s: exit %d, %s", v.Name, code, errOut)
		}
	}
}

// skipUnlessLive skips a live test where the platform cannot trace or no
// PostgreSQL of v's major version is installed; in CI (CI=true, where
// scripts/test.sh installs the builds) a missing build is a failure.
func skipUnlessLive(t *testing.T, version string) {
	t.Helper()
	d, ok := LookupDriver("live")
	if !ok {
		t.Fatal("no live driver in the registry")
	}
	v, _ := walkthrough.LookupVersion(version)
	if _, _, err := d.Find(v); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have PostgreSQL %s (scripts/install-pg.sh): %v", version, err)
		}
		t.Skip(err)
	}
}

func ids(ps []walkthrough.PhaseID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// BenchmarkRunNoPause compares a whole non-interactive re-enactment
// (processes, sockets, rendering) with a bare glamour render of the same
// notes, measured in the same run. The design's target: at most 1.5x.
func BenchmarkRunNoPause(b *testing.B) {
	set, err := annotations.Default()
	if err != nil {
		b.Fatal(err)
	}
	v, _ := walkthrough.LookupVersion("16.4")
	var md []string
	for _, n := range set.Notes(v.Name, "en") {
		if n.Phase != walkthrough.ForkFailure {
			md = append(md, render.NoteMarkdown(n, v))
		}
	}
	b.Run("glamour", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr, err := glamour.NewTermRenderer(glamour.WithStandardStyle("notty"), glamour.WithWordWrap(80))
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range md {
				if _, err := tr.Render(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	for _, driver := range []string{"reenact", "narrate"} {
		b.Run(driver, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				io, _, _, errOut := iostreams.Test()
				if code := Execute(context.Background(), NewFactory(io), []string{"run", "--version", "16.4", "--driver", driver, "--no-pause", "--style", "notty", "--width", "80"}); code != 0 {
					b.Fatalf("exit %d: %s", code, errOut)
				}
			}
		})
	}
}

// TestListenWarning checks the one warning of a run that listens beyond
// this machine: every address that is not a loopback one gets it (none is
// listened on here: the warning comes from the options alone), a loopback
// one does not.
func TestListenWarning(t *testing.T) {
	for _, tt := range []struct {
		listen string
		port   int
		want   string
	}{
		{"", 0, ""},
		{"127.0.0.1", 0, ""},
		{"127.0.0.2", 5499, ""},
		{"::1", 0, ""},
		{"0.0.0.0", 0, "listening on 0.0.0.0, beyond this machine"},
		{"::", 5499, "listening on [::]:5499, beyond this machine"},
		{"192.0.2.1", 5499, "listening on 192.0.2.1:5499, beyond this machine"},
		{"fe80::1", 0, "listening on fe80::1, beyond this machine"},
	} {
		got := listenWarning(tt.listen, tt.port, "en")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("listenWarning(%q, %d) = %q, want %q", tt.listen, tt.port, got, tt.want)
		}
		if ko := listenWarning(tt.listen, tt.port, "ko"); (ko == "") != (got == "") || (ko != "" && !strings.Contains(ko, "시작 패킷만")) {
			t.Errorf("listenWarning(%q) in Korean = %q", tt.listen, ko)
		}
	}
}
