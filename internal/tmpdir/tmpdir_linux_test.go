package tmpdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	// A command name may hold spaces and parentheses: the fields are
	// counted from the last ')'.
	rest := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20\n"
	for _, comm := range []string{"(pgwalk)", "(a b) c)", "())"} {
		got, err := parseStartTime([]byte("42 " + comm + rest))
		if err != nil || got != 777 {
			t.Errorf("%s: got %d, %v; want 777", comm, got, err)
		}
	}
	if _, err := parseStartTime([]byte("42 (x) S 1 2")); err == nil {
		t.Error("a short stat line parsed")
	}
}

// TestStartTimeMatchesProc checks the start time against what ps(1)-style
// tools read: a child started after this process has a later start time.
func TestStartTimeMatchesProc(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	child, err := ownerOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if child.Start < self.Start {
		t.Errorf("child start %d before this process's %d", child.Start, self.Start)
	}
	if child.Gone() {
		t.Error("a running child counts as gone")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !child.Gone() {
		t.Error("a reaped child does not count as gone")
	}
}

// TestAnotherUsersDirectory checks that a stale-looking directory whose
// marker belongs to another user is left alone (needs root to make one).
func TestAnotherUsersDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a file owned by another user")
	}
	base := useTempDir(t)
	d := filepath.Join(base, Prefix+"theirs")
	dead := Owner{PID: deadPID(t)}
	writeMarker(t, d, string(dead.marker()), 0o600)
	if err := os.Chown(filepath.Join(d, MarkerName), 101, 101); err != nil {
		t.Skip(err)
	}
	removed, err := CleanStale(Prefix)
	if err != nil || len(removed) != 0 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Fatal(err)
	}
	// Chowning the directory (as the live driver does for the server's
	// user) does not matter while the marker is the caller's.
	if err := os.Chown(filepath.Join(d, MarkerName), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, 101, 101); err != nil {
		t.Fatal(err)
	}
	removed, err = CleanStale(Prefix)
	if err != nil || len(removed) != 1 {
		t.Fatalf("removed %v, %v; want the directory", removed, err)
	}
}
