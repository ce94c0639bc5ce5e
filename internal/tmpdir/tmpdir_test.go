package tmpdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// useTempDir points os.TempDir() at a fresh directory for the test.
func useTempDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	t.Setenv("TMPDIR", base)
	if os.TempDir() != base {
		t.Skipf("os.TempDir() does not follow TMPDIR here (%s)", os.TempDir())
	}
	return base
}

func TestMake(t *testing.T) {
	base := useTempDir(t)
	dir, err := Make(Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != base || !strings.HasPrefix(filepath.Base(dir), Prefix) {
		t.Fatalf("Make made %s, want %s%s* under %s", dir, Prefix, "", base)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", st.Mode().Perm())
	}
	o, err := ReadOwner(dir)
	if err != nil {
		t.Fatal(err)
	}
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if o != self {
		t.Errorf("owner %+v, want %+v", o, self)
	}
	if o.Gone() {
		t.Error("the test's own directory counts as stale")
	}
	if _, err := os.Stat(filepath.Join(dir, MarkerName+".new")); !os.IsNotExist(err) {
		t.Errorf("the temporary marker is still there: %v", err)
	}
	for _, bad := range []string{"", "a/b", "x*"} {
		if d, err := Make(bad); err == nil {
			os.RemoveAll(d)
			t.Errorf("Make(%q) succeeded", bad)
		}
	}
}

// deadPID returns the pid of a process that has ended and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func writeMarker(t *testing.T, dir string, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, MarkerName)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCleanStale(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pgwalk never removes a directory by owner on Windows")
	}
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	dead := Owner{PID: deadPID(t), Start: self.Start, Boot: self.Boot}
	reused := Owner{PID: self.PID, Start: self.Start + 1, Boot: self.Boot}
	rebooted := Owner{PID: self.PID, Start: self.Start, Boot: "an-earlier-boot"}
	if runtime.GOOS != "linux" {
		reused, rebooted = dead, dead
	}

	cases := []struct {
		name    string
		setup   func(t *testing.T, base string) string
		removed bool
	}{
		{"a running owner's directory is kept", func(t *testing.T, base string) string {
			d, err := Make(Prefix)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, false},
		{"a gone owner's directory is removed", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"dead")
			writeMarker(t, d, string(dead.marker()), 0o600)
			// What a killed run leaves: a socket-like file and a subdirectory.
			os.MkdirAll(filepath.Join(d, "sub"), 0o700)
			os.WriteFile(filepath.Join(d, "sub", "f"), []byte("x"), 0o600)
			return d
		}, true},
		{"a reused pid's directory is removed", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"reused")
			writeMarker(t, d, string(reused.marker()), 0o600)
			return d
		}, true},
		{"a directory from an earlier boot is removed", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"boot")
			writeMarker(t, d, string(rebooted.marker()), 0o600)
			return d
		}, true},
		{"no marker: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"nomarker")
			os.MkdirAll(d, 0o700)
			return d
		}, false},
		{"only the half-written marker: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"torn")
			os.MkdirAll(d, 0o700)
			os.WriteFile(filepath.Join(d, MarkerName+".new"), dead.marker()[:10], 0o600)
			return d
		}, false},
		{"a garbled marker: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"garbled")
			writeMarker(t, d, "pid 1\n", 0o600)
			return d
		}, false},
		{"a marker others can write: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"writable")
			writeMarker(t, d, string(dead.marker()), 0o666)
			return d
		}, false},
		{"a marker that is a symbolic link: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"markerlink")
			os.MkdirAll(d, 0o700)
			real := filepath.Join(t.TempDir(), "m")
			os.WriteFile(real, dead.marker(), 0o600)
			if err := os.Symlink(real, filepath.Join(d, MarkerName)); err != nil {
				t.Skip(err)
			}
			return d
		}, false},
		{"a symbolic link to a stale directory: kept, and so is its target", func(t *testing.T, base string) string {
			target := filepath.Join(t.TempDir(), Prefix+"target")
			writeMarker(t, target, string(dead.marker()), 0o600)
			d := filepath.Join(base, Prefix+"link")
			if err := os.Symlink(target, d); err != nil {
				t.Skip(err)
			}
			t.Cleanup(func() {
				if _, err := os.Stat(filepath.Join(target, MarkerName)); err != nil {
					t.Errorf("the link's target was touched: %v", err)
				}
			})
			return d
		}, false},
		{"a directory others can open: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"open")
			writeMarker(t, d, string(dead.marker()), 0o600)
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return d
		}, false},
		{"another prefix: kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, "other-"+Prefix+"dead")
			writeMarker(t, d, string(dead.marker()), 0o600)
			return d
		}, false},
		{"another sweeper's prefix (Except): kept", func(t *testing.T, base string) string {
			d := filepath.Join(base, Prefix+"live-dead")
			writeMarker(t, d, string(dead.marker()), 0o600)
			return d
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := useTempDir(t)
			dir := tc.setup(t, base)
			var reaped []string
			removed, err := Sweeper{Prefix: Prefix, Except: []string{Prefix + "live-"}, Reap: func(d string) {
				if _, err := os.Stat(filepath.Join(d, MarkerName)); err != nil {
					t.Errorf("Reap(%s) after the directory went: %v", d, err)
				}
				reaped = append(reaped, d)
			}}.Sweep()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(reaped, removed) {
				t.Errorf("reaped %v, removed %v: Reap must see exactly what goes", reaped, removed)
			}
			_, statErr := os.Lstat(dir)
			gone := os.IsNotExist(statErr)
			if gone != tc.removed {
				t.Errorf("directory gone = %v, want %v (stat: %v)", gone, tc.removed, statErr)
			}
			if slices.Contains(removed, dir) != tc.removed {
				t.Errorf("CleanStale reported %v", removed)
			}
			if !tc.removed && len(removed) > 0 {
				t.Errorf("CleanStale removed %v, want nothing", removed)
			}
		})
	}
}

func TestParseMarker(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Owner
		ok   bool
	}{
		{"full", magic + "\npid 12\nstart 34\nboot b-1\n", Owner{12, 34, "b-1"}, true},
		{"no boot id", magic + "\npid 12\nstart 0\n", Owner{12, 0, ""}, true},
		{"wrong first line", "pgwalk\npid 12\nstart 34\n", Owner{}, false},
		{"no pid", magic + "\nstart 34\n", Owner{}, false},
		{"no start", magic + "\npid 12\n", Owner{}, false},
		{"pid 0", magic + "\npid 0\nstart 34\n", Owner{}, false},
		{"negative pid", magic + "\npid -3\nstart 34\n", Owner{}, false},
		{"pid twice", magic + "\npid 12\npid 13\nstart 34\n", Owner{}, false},
		{"unknown field", magic + "\npid 12\nstart 34\nuid 0\n", Owner{}, false},
		{"empty", "", Owner{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMarker([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
