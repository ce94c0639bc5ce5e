//go:build unix

package reenact

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestKeyTable publishes, looks up and clears keys, as backends and a
// cancel connection's child do.
func TestKeyTable(t *testing.T) {
	dir := t.TempDir()
	tab, path, err := createKeyTable(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.close()
	key32 := bytes.Repeat([]byte{0xab}, 32)
	if err := tab.publish(2, 4242, key32); err != nil {
		t.Fatal(err)
	}
	if err := tab.publish(3, 4343, []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int{0, 4} {
		if err := tab.publish(bad, 1, key32); err == nil {
			t.Errorf("publish in slot %d of 3 rows: no error", bad)
		}
	}
	if err := tab.publish(1, 1, nil); err == nil {
		t.Error("publish of an empty key: no error")
	}
	tests := []struct {
		name           string
		pid            int
		key            []byte
		found, matched bool
	}{
		{"the right key", 4242, key32, true, true},
		{"a wrong byte", 4242, append(bytes.Repeat([]byte{0xab}, 31), 0xac), true, false},
		{"a prefix of the key", 4242, key32[:4], true, false},
		{"the other backend's 4 bytes", 4343, []byte{1, 2, 3, 4}, true, true},
		{"an unknown pid", 99, key32, false, false},
		{"pid 0", 0, key32, false, false},
	}
	for _, tt := range tests {
		found, matched := tab.lookup(tt.pid, tt.key)
		if found != tt.found || matched != tt.matched {
			t.Errorf("%s: found %t matched %t, want %t %t", tt.name, found, matched, tt.found, tt.matched)
		}
	}
	if n := tab.published(); n != 2 {
		t.Errorf("%d published, want 2", n)
	}

	// Another mapping of the same file sees the same rows: the table is
	// shared, not copied.
	other, err := openKeyTable(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	if found, matched := other.lookup(4242, key32); !found || !matched {
		t.Error("a second mapping does not see the published key")
	}
	tab.clear(2, 9999) // not its pid: left alone
	if found, _ := other.lookup(4242, key32); !found {
		t.Error("clear with another pid emptied the row")
	}
	tab.clear(2, 4242)
	if found, _ := other.lookup(4242, key32); found {
		t.Error("the cleared row is still found through the other mapping")
	}
	if err := other.close(); err != nil {
		t.Fatal(err)
	}
	if err := other.close(); err != nil {
		t.Errorf("a second close: %v", err)
	}
}

// TestKeyTableAcrossProcesses: a key published by another process is found
// here, as a cancel connection's child finds the key a backend published.
func TestKeyTableAcrossProcesses(t *testing.T) {
	if os.Getenv("PGWALK_KEYTABLE_PUBLISH") != "" {
		return
	}
	dir := t.TempDir()
	tab, path, err := createKeyTable(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyTablePublisher$")
	cmd.Env = append(os.Environ(), "PGWALK_KEYTABLE_PUBLISH="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("publisher: %v\n%s", err, out)
	}
	if found, matched := tab.lookup(cmd.Process.Pid, []byte("published by a child")); !found || !matched {
		t.Errorf("the key process %d published: found %t matched %t", cmd.Process.Pid, found, matched)
	}
}

// TestKeyTablePublisher is the other process of TestKeyTableAcrossProcesses.
func TestKeyTablePublisher(t *testing.T) {
	path := os.Getenv("PGWALK_KEYTABLE_PUBLISH")
	if path == "" {
		t.Skip("run by TestKeyTableAcrossProcesses")
	}
	tab, err := openKeyTable(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.publish(2, os.Getpid(), []byte("published by a child")); err != nil {
		t.Fatal(err)
	}
	if err := tab.close(); err != nil {
		t.Fatal(err)
	}
}
