package cluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReachable(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, mode os.FileMode, dir bool) string {
		p := filepath.Join(root, rel)
		var err error
		if dir {
			err = os.Mkdir(p, mode)
		} else {
			err = os.WriteFile(p, []byte("x"), mode)
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Every parent of the test's temporary directory must be searchable
	// for the cases below to mean anything.
	stranger := &syscall.Credential{Uid: 54321, Gid: 54321}
	if !searchable(filepath.Dir(root), stranger) {
		t.Skipf("%s is not searchable by others", filepath.Dir(root))
	}
	mk("open", 0o755, true)
	closed := mk("closed", 0o700, true)
	tests := []struct {
		name string
		path string
		cred *syscall.Credential
		want bool
	}{
		{"pgwalk's own user", mk("closed/bin", 0o700, false), nil, true},
		{"open directory, executable", mk("open/postgres", 0o755, false), stranger, true},
		{"open directory, not executable", mk("open/data", 0o644, false), stranger, false},
		{"closed directory", mk("closed/postgres", 0o755, false), stranger, false},
		{"owner of a closed directory", filepath.Join(closed, "postgres"), &syscall.Credential{Uid: ownerOf(t, closed), Gid: 54321}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reachable(tt.path, tt.cred); got != tt.want {
				t.Errorf("reachable(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func ownerOf(t *testing.T, path string) uint32 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}
