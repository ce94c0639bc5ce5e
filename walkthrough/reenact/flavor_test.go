//go:build unix

package reenact

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestFlavor: the driver's words and orders come from the manifest.
func TestFlavor(t *testing.T) {
	tests := []struct {
		version string
		steps   []string
		alloc   string
		launch  string
	}{
		{"16.4", []string{stepInitChild, stepClosePorts}, "malloc(sizeof(Backend))", "backend_forkexec(port) -> internal_forkexec"},
		{"17.1", []string{stepClosePorts, stepInitChild}, "palloc_extended(sizeof(Backend), MCXT_ALLOC_NO_OOM)",
			"postmaster_child_launch(B_BACKEND, (char *) &startup_data, sizeof(startup_data), client_sock) -> internal_forkexec"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			v, err := walkthrough.LookupVersion(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			fl := flavorFor(v)
			if fl.err != nil {
				t.Fatal(fl.err)
			}
			if !slices.Equal(fl.childSteps(), tt.steps) || fl.allocator != tt.alloc || fl.launch != tt.launch {
				t.Errorf("flavor(%s) = steps %v allocator %s launch %s", tt.version, fl.childSteps(), fl.allocator, fl.launch)
			}
			if !strings.HasPrefix(fl.serverVersion(), tt.version+" ") {
				t.Errorf("server_version %q does not start with %s", fl.serverVersion(), tt.version)
			}
		})
	}
}

// TestSupports: a release whose facts the re-enactment cannot follow is
// refused with the fact and the reason, never walked as another release.
func TestSupports(t *testing.T) {
	v, err := walkthrough.LookupVersion("17.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := Supports(v); err != nil {
		t.Fatalf("17.1: %v", err)
	}
	base, err := os.ReadFile("../../annotations/releases/17.1/release.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"a key made in the backend but kept in the record", "made_in: postmaster", "made_in: backend\n    at: \"x.c:1\"", "its cancel key is made in the backend"},
		{"a 32-byte key", `{protocol: "3.0", bytes: 4}`, `{protocol: "3.0", bytes: 4}` + "\n      - {protocol: \"3.2\", bytes: 32}", "not one int32"},
		{"a list joined at allocation", "joined_in: parent-registration", "joined_in: struct-creation", "a child joins BackendList in struct-creation"},
		{"a step it does not know", "steps: [ClosePostmasterPorts, InitPostmasterChild]", "steps: [ClosePostmasterPorts, DetachShmem]", "the child's steps are ClosePostmasterPorts, DetachShmem"},
		{"a plan with another sequence", "    - phase: parent-registration", "    - phase: child\n      process: backend\n      point: main-reached\n      at: x\n    - phase: parent-registration", "its normal plan stops at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(base), tt.old) {
				t.Fatalf("17.1's manifest has no %q", tt.old)
			}
			r, err := walkthrough.ParseRelease("m.yaml", []byte(strings.Replace(string(base), tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			err = Supports(r.Version)
			var ue *walkthrough.UnsupportedError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || ue.Driver != "reenact" {
				t.Errorf("Supports = %v, want an UnsupportedError mentioning %q", err, tt.want)
			}
			d := New(walkthrough.DriverOptions{Version: r.Version})
			t.Cleanup(func() { _ = d.Close() })
			if err := d.Start(context.Background()); !errors.As(err, &ue) {
				t.Errorf("Start = %v, want the same refusal", err)
			}
		})
	}
	for _, name := range []string{"16.4", "18.4"} {
		if v, err := walkthrough.LookupVersion(name); err != nil || Supports(v) != nil {
			t.Errorf("%s: %v, %v", name, err, Supports(v))
		}
	}
	if err := Supports(walkthrough.Version{Name: "17.1"}); err == nil || !strings.Contains(err.Error(), "no release manifest") {
		t.Errorf("a version with no manifest: %v", err)
	}
}

// TestExitLog checks the line the postmaster logs when a client backend
// exits, as each release's CleanupBackend names it: "server process" in
// 16.4 and 17.1, the backend type's description in 18.4.
func TestExitLog(t *testing.T) {
	tests := []struct {
		version, bkendType, want string
	}{
		{"16.4", "BACKEND_TYPE_NORMAL", "server process (PID 7) exited with exit code 0"},
		{"17.1", "BACKEND_TYPE_NORMAL", "server process (PID 7) exited with exit code 0"},
		{"18.4", "B_BACKEND", "client backend (PID 7) exited with exit code 0"},
		{"18.4", "B_DEAD_END_BACKEND", "dead-end client backend (PID 7) exited with exit code 0"},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.bkendType, func(t *testing.T) {
			fl := flavorFor(version(t, tt.version))
			if got := (ending{known: true, exited: true}).log(fl.exitName(tt.bkendType), 7); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
