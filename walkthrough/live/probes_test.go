package live

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func version(tb testing.TB, name string) walkthrough.Version {
	tb.Helper()
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestTables: what the walk reads from each release's manifest, where the
// releases differ. No Go code of the driver names a release.
func TestTables(t *testing.T) {
	tests := []struct {
		release            string
		gate, alloc, dead  string
		slot, launch       string
		allocArgs          []argValue
		steps              []string
		list               string
		atRegistration     bool
		keyInPostmaster    bool
		keyFill            string
		record             string
		size, pid, key     int
		socketType         string
		raddr              int
		normal             int64
		deadEndType        bool
		cacFour, cacTwelve string
	}{
		{"16.4", "StreamConnection", "malloc", "", "AssignPostmasterChildSlot", "backend_forkexec", []argValue{{0, 40}},
			[]string{stepInitChild, stepClosePorts}, "BackendList", true, true, "pg_strong_random", "Backend", 40, 0, 4, "Port", 152, 1, false,
			"CAC_NOTCONSISTENT", "CAC_state(12)"},
		{"17.1", "AcceptConnection", "palloc_extended", "", "AssignPostmasterChildSlot", "postmaster_child_launch", []argValue{{0, 40}, {1, 2}},
			[]string{stepClosePorts, stepInitChild}, "BackendList", true, true, "pg_strong_random", "Backend", 40, 0, 4, "ClientSocket", 8, 1, false,
			"CAC_NOTCONSISTENT", "CAC_state(12)"},
		{"18.4", "AcceptConnection", "AssignPostmasterChildSlot", "AllocDeadEndChild", "", "postmaster_child_launch", []argValue{{0, 1}},
			[]string{stepClosePorts, stepInitChild}, "ActiveChildList", false, false, "pg_strong_random", "PMChild", 48, 0, -1, "ClientSocket", 8, 1, true,
			"CAC_NOTHOTSTANDBY", "CAC_state(12)"},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			tab, err := newTable(version(t, tt.release).Release(), "amd64")
			if err != nil {
				t.Fatal(err)
			}
			got := []string{tab.gate.fn, tab.allocate.fn, tab.deadEnd.fn, tab.slot.fn, tab.launch.fn}
			if want := []string{tt.gate, tt.alloc, tt.dead, tt.slot, tt.launch}; !slices.Equal(got, want) {
				t.Errorf("calls %q, want %q", got, want)
			}
			if !slices.Equal(tab.allocate.args, tt.allocArgs) || !slices.Equal(tab.accept.args, []argValue{{0, 1}}) {
				t.Errorf("argument filters: allocate %v, accept %v", tab.allocate.args, tab.accept.args)
			}
			if tab.fork.fn != "fork_process" || tab.close.fn != "close" || !tab.close.libc || tab.allocate.libc != (tt.alloc == "malloc") {
				t.Errorf("fork %+v, close %+v, allocate %+v", tab.fork, tab.close, tab.allocate)
			}
			if !slices.Equal(tab.steps, tt.steps) || tab.list != tt.list || tab.joinedAtRegistration != tt.atRegistration {
				t.Errorf("steps %v, list %s joined at registration %v", tab.steps, tab.list, tab.joinedAtRegistration)
			}
			if tab.keyInPostmaster != tt.keyInPostmaster || tab.keyFill.fn != tt.keyFill || tab.keyVar != "MyCancelKey" {
				t.Errorf("key: in postmaster %v, filled by %q, variable %q", tab.keyInPostmaster, tab.keyFill.fn, tab.keyVar)
			}
			r := tab.rec
			if r.typ != tt.record || r.size != tt.size || r.pid != tt.pid || r.key != tt.key || r.normal != tt.normal || r.hasDeadEndType != tt.deadEndType {
				t.Errorf("record %+v", r)
			}
			if tab.socketType != tt.socketType || tab.socket.RAddr != tt.raddr || tab.socket.Sock != 0 {
				t.Errorf("client socket %s %+v", tab.socketType, tab.socket)
			}
			if tab.cacName(0) != "CAC_OK" || tab.cacName(4) != tt.cacFour || tab.cacName(12) != tt.cacTwelve || tab.cacName(-1) != "CAC_state(-1)" {
				t.Errorf("CAC names %v", tab.cac)
			}
			if s := stopAt(tab.plan, walkthrough.Child); s.Process != walkthrough.Backend || s.At == "" {
				t.Errorf("child stop %+v", s)
			}
			if s := stopAt(tab.failure, walkthrough.ForkFailure); s.Process != walkthrough.Postmaster || s.At == "" {
				t.Errorf("fork-failure stop %+v", s)
			}
		})
	}
}

// TestTableRefuses: a release whose facts the walk cannot follow is
// refused with an UnsupportedError that names the fact.
func TestTableRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *walkthrough.Release)
		arch   string
		want   string
	}{
		{"another architecture", nil, "arm64", "no layout of the record AcceptConnection fills on arm64"},
		{"another architecture, with a socket layout", func(r *walkthrough.Release) {
			r.Facts.ClientSocket.Layouts = map[string]walkthrough.SocketLayout{"arm64": {Sock: 0, RAddr: 8}}
		}, "arm64", "no layout of PMChild on arm64"},
		{"a step the walk does not know", func(r *walkthrough.Release) { r.Facts.Child.Steps = []string{"InitPostmasterChild", "CloseEverything"} }, "amd64", "the child's steps are InitPostmasterChild, CloseEverything"},
		{"a key made in the backend by no named call", func(r *walkthrough.Release) { r.Facts.CancelKey.FilledBy = "" }, "amd64", "facts.cancel_key.filled_by"},
		{"no client socket layout", func(r *walkthrough.Release) { r.Facts.ClientSocket.Layouts = nil }, "amd64", "facts.client_socket"},
		{"a record without a pid", func(r *walkthrough.Release) {
			l := r.Facts.Record.Layouts["amd64"]
			l.Fields = slices.DeleteFunc(slices.Clone(l.Fields), func(f walkthrough.Field) bool { return f.Name == "pid" })
			r.Facts.Record.Layouts = map[string]walkthrough.RecordLayout{"amd64": l}
		}, "amd64", "has no pid field"},
		{"a plan of other stops", func(r *walkthrough.Release) {
			r.Plans = []walkthrough.StopPlan{{Scenario: walkthrough.ScenarioNormal, Stops: r.Plans[0].Stops[1:]}}
		}, "amd64", "its normal plan stops at struct-init/postmaster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := *version(t, "18.4").Release()
			if tt.change != nil {
				tt.change(&r)
			}
			_, err := newTable(&r, tt.arch)
			var ue *walkthrough.UnsupportedError
			if !errors.As(err, &ue) || ue.Driver != "live" || ue.Release != "18.4" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newTable = %v, want an UnsupportedError of the live driver mentioning %q", err, tt.want)
			}
		})
	}
}

// rawRecord lays out a record by the layout's offsets.
func rawRecord(l recordLayout, pid, key, slot, typ int32, deadEnd, notify bool) []byte {
	b := make([]byte, l.size)
	put := func(off int, v int32) {
		if off >= 0 {
			binary.LittleEndian.PutUint32(b[off:], uint32(v))
		}
	}
	put(l.pid, pid)
	put(l.key, key)
	put(l.slot, slot)
	put(l.bkendType, typ)
	if deadEnd && l.deadEnd >= 0 {
		b[l.deadEnd] = 1
	}
	if notify && l.notify >= 0 {
		b[l.notify] = 1
	}
	return b
}

func TestRecordDecode(t *testing.T) {
	tests := []struct {
		release string
		raw     func(l recordLayout) []byte
		want    walkthrough.BackendNode
	}{
		{"16.4", func(l recordLayout) []byte { return rawRecord(l, 4242, -7, 3, 1, false, true) },
			walkthrough.BackendNode{PID: 4242, CancelKey: -7, ChildSlot: 3, BkendType: "BACKEND_TYPE_NORMAL", BgworkerNotify: true}},
		{"17.1", func(l recordLayout) []byte { return rawRecord(l, 1, 2, 0, 1, true, false) },
			walkthrough.BackendNode{PID: 1, CancelKey: 2, ChildSlot: 0, BkendType: "BACKEND_TYPE_NORMAL", DeadEnd: true}},
		{"18.4", func(l recordLayout) []byte { return rawRecord(l, 77, 0, 5, 1, false, true) },
			walkthrough.BackendNode{PID: 77, NoKey: true, ChildSlot: 5, BkendType: "B_BACKEND", BgworkerNotify: true}},
		{"18.4", func(l recordLayout) []byte { return rawRecord(l, 78, 0, 0, 2, false, false) },
			walkthrough.BackendNode{PID: 78, NoKey: true, BkendType: "B_DEAD_END_BACKEND", DeadEnd: true}},
		{"18.4", func(l recordLayout) []byte { return rawRecord(l, 79, 0, 9, 5, false, false) },
			walkthrough.BackendNode{PID: 79, NoKey: true, ChildSlot: 9, BkendType: "bkend_type(5)"}},
	}
	for _, tt := range tests {
		t.Run(tt.release+"/"+tt.want.BkendType, func(t *testing.T) {
			tab, err := newTable(version(t, tt.release).Release(), "amd64")
			if err != nil {
				t.Fatal(err)
			}
			got, err := tab.rec.decode(tt.raw(tab.rec))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decode = %+v, want %+v", got, tt.want)
			}
			if tab.rec.isNormal(got) != (tt.want.BkendType == "BACKEND_TYPE_NORMAL" || tt.want.BkendType == "B_BACKEND") {
				t.Errorf("isNormal(%s) is wrong", got.BkendType)
			}
			if _, err := tab.rec.decode(make([]byte, tab.rec.size-1)); err == nil {
				t.Error("decode accepted a short record")
			}
		})
	}
	tab, _ := newTable(version(t, "16.4").Release(), "amd64")
	if got := tab.rec.String(); got != "pid@0 cancel_key@4 child_slot@8 bkend_type@12 dead_end@16 bgworker_notify@17 elem@24, 40 bytes" {
		t.Errorf("String = %q", got)
	}
}

func TestPointMatches(t *testing.T) {
	p := point{fn: "palloc_extended", args: []argValue{{0, 40}, {1, 2}}}
	args := func(vals ...uint64) func(int) uint64 { return func(i int) uint64 { return vals[i] } }
	if !p.matches(args(40, 2)) || p.matches(args(40, 0)) || p.matches(args(48, 2)) {
		t.Error("matches is wrong")
	}
	// A 32-bit argument with garbage in the register's upper half.
	if !(point{args: []argValue{{0, 1}}}).matches(args(0xdead_0000_0001)) {
		t.Error("an int argument is compared on its 32 bits")
	}
}
