//go:build unix

package reenact

import (
	"testing"

	"github.com/pgwalk/pgwalk/internal/catalog"
)

// TestServingLine checks the line said while clients hold their backends:
// pids in numerical order (not as text), the last one apart, and the
// grammar of one or many, in English.
func TestServingLine(t *testing.T) {
	one := map[*conn]bool{{pid: 28912}: true}
	if got, want := catalog.Text("en", servingMsg(one)), "backend 28912 is serving its client; its closing check comes when the client disconnects (\\q). A new client is walked as soon as it connects."; got != want {
		t.Errorf("one backend:\n got %q\nwant %q", got, want)
	}
	many := map[*conn]bool{{pid: 29565}: true, {pid: 28912}: true, {pid: 9999}: true, {pid: 29480}: true}
	m := servingMsg(many)
	if m.Args["n"] != "4" || m.Args["others"] != "9999, 28912, 29480" || m.Args["last"] != "29565" {
		t.Errorf("four backends: args %v", m.Args)
	}
	if got, want := catalog.Text("en", m), "backends 9999, 28912, 29480 and 29565 are serving their clients; each one's closing check comes when its client disconnects (\\q). A new client is walked as soon as it connects."; got != want {
		t.Errorf("four backends:\n got %q\nwant %q", got, want)
	}
	if got, want := catalog.Text("ko", m), "클라이언트를 맡고 있는 백엔드: 9999, 28912, 29480, 29565. 각 백엔드의 마무리 검증은 그 클라이언트가 접속을 끊을 때(\\q) 나옵니다. 새 클라이언트는 접속하는 대로 따라갑니다."; got != want {
		t.Errorf("four backends in Korean:\n got %q\nwant %q", got, want)
	}
}
