//go:build unix

package reenact

import "testing"

// TestServingLine checks the line said while clients hold their backends:
// pids in numerical order (not as text), and the grammar of one or many.
func TestServingLine(t *testing.T) {
	one := map[*conn]bool{{pid: 28912}: true}
	if got, want := servingLine(one), "backend 28912 is serving its client; its closing check comes when the client disconnects (\\q). A new client is walked as soon as it connects."; got != want {
		t.Errorf("one backend:\n got %q\nwant %q", got, want)
	}
	many := map[*conn]bool{{pid: 29565}: true, {pid: 28912}: true, {pid: 9999}: true, {pid: 29480}: true}
	if got, want := servingLine(many), "backends 9999, 28912, 29480 and 29565 are serving their clients; each one's closing check comes when its client disconnects (\\q). A new client is walked as soon as it connects."; got != want {
		t.Errorf("four backends:\n got %q\nwant %q", got, want)
	}
}
