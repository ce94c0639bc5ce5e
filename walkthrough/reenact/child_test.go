//go:build unix

package reenact

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestParseChildFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		listen  []int
		wantErr bool
	}{
		{"all", []string{"-version", "16.4", "-steps", "InitPostmasterChild,ClosePostmasterPorts", "-listen", "3,4", "-death-read", "5", "-death-write", "6", "-client", "7", "-control", "8"}, []int{3, 4}, false},
		{"missing control", []string{"-version", "16.4", "-steps", "InitPostmasterChild", "-death-read", "5", "-death-write", "6", "-client", "7"}, nil, true},
		{"missing steps", []string{"-version", "16.4", "-listen", "3,4", "-death-read", "5", "-death-write", "6", "-client", "7", "-control", "8"}, nil, true},
		{"unknown step", []string{"-version", "16.4", "-steps", "InitPostmasterChild,ForkExec", "-listen", "3,4", "-death-read", "5", "-death-write", "6", "-client", "7", "-control", "8"}, nil, true},
		{"bad listen", []string{"-listen", "x", "-death-read", "5", "-death-write", "6", "-client", "7", "-control", "8"}, nil, true},
		{"unknown flag", []string{"-bogus"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf, err := parseChildFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(cf.listen, tt.listen) {
				t.Errorf("listen = %v, want %v", cf.listen, tt.listen)
			}
			if err == nil && !slices.Equal(cf.steps, []string{stepInitChild, stepClosePorts}) {
				t.Errorf("steps = %v, want the order given", cf.steps)
			}
		})
	}
}

func TestChildMainRefusesBadArgs(t *testing.T) {
	var stderr strings.Builder
	if code := childMain([]string{"-bogus"}, &stderr); code != 2 {
		t.Errorf("ChildMain with bad flags = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "not by hand") {
		t.Errorf("stderr = %q, want a hint that pgwalk starts this command", stderr.String())
	}
}

func TestNotPassed(t *testing.T) {
	vars := backendVars{Roles: map[int]string{3: walkthrough.FDListenSocket}, Inherited: []int{10}}
	fds := []walkthrough.FD{
		{Num: 1, Target: "/dev/null"},
		{Num: 3, Target: "socket:[1]"},
		{Num: 9, Target: "/sys/fs/cgroup/cpu.max"},
		{Num: 10, Target: "pipe:[2]"},
		{Num: 12, Target: "anon_inode:[eventpoll]"},
	}
	var got []string
	for _, f := range notPassed(fds, vars) {
		got = append(got, f.Key+" "+f.Args["fd"])
	}
	want := []string{
		"fact.reenact.fd_cgroup fd 9 /sys/fs/cgroup/cpu.max",
		"fact.reenact.fd_inherited fd 10 pipe:[2]",
		"fact.reenact.fd_go fd 12 anon_inode:[eventpoll]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("notPassed =\n%q\nwant\n%q", got, want)
	}
}

// TestInterrupter checks the backend's statement-cancel state: a SIGINT
// cancels a running statement once and is ignored when idle.
func TestInterrupter(t *testing.T) {
	tests := []struct {
		name string
		// steps: "start", "interrupt", "end"; want holds each step's
		// result (interrupt: ok; end: interrupted; start: "").
		steps []string
		want  []string
	}{
		{"idle", []string{"interrupt"}, []string{"false"}},
		{"runs to the end", []string{"start", "end", "interrupt"}, []string{"", "false", "false"}},
		{"cancelled", []string{"start", "interrupt", "end"}, []string{"", "true", "true"}},
		{"cancelled once", []string{"start", "interrupt", "interrupt", "end"}, []string{"", "true", "false", "true"}},
		{"next statement starts clean", []string{"start", "interrupt", "end", "start", "end"}, []string{"", "true", "true", "", "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var i interrupter
			var ch <-chan struct{}
			var got []string
			for _, step := range tt.steps {
				switch step {
				case "start":
					ch = i.start("SELECT pg_sleep(1)")
					got = append(got, "")
				case "interrupt":
					q, ok := i.interrupt()
					if ok && q != "SELECT pg_sleep(1)" {
						t.Errorf("interrupted %q", q)
					}
					got = append(got, strconv.FormatBool(ok))
				case "end":
					interrupted := i.end()
					select {
					case <-ch:
						if !interrupted {
							t.Error("the statement's channel closed without an interrupt")
						}
					default:
						if interrupted {
							t.Error("interrupted, but the statement's channel is open")
						}
					}
					got = append(got, strconv.FormatBool(interrupted))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("results = %q, want %q", got, tt.want)
			}
		})
	}
}
