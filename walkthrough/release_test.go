package walkthrough

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The manifests the tests read: the real ones, which package annotations
// embeds, and the fictional release of testdata.
var manifestFiles = map[string]string{
	"16.4": "../annotations/releases/16.4/release.yaml",
	"17.1": "../annotations/releases/17.1/release.yaml",
	"18.4": "../annotations/releases/18.4/release.yaml",
	"99.1": "testdata/fictional/releases/99.1/release.yaml",
}

func readManifest(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(manifestFiles[name])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseManifest(t testing.TB, name string) *Release {
	t.Helper()
	r, err := ParseRelease(manifestFiles[name], readManifest(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testCatalog returns the catalog of the manifests the tests read.
func testCatalog(t testing.TB) *Catalog {
	t.Helper()
	var rels []*Release
	for name := range manifestFiles {
		rels = append(rels, parseManifest(t, name))
	}
	c, err := NewCatalog(rels...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryManifestIsThere(t *testing.T) {
	found, err := filepath.Glob("../annotations/releases/*/release.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		name := filepath.Base(filepath.Dir(f))
		if manifestFiles[name] != f {
			t.Errorf("%s is not among the manifests this test reads", f)
		}
	}
}

func TestParseReleaseFacts(t *testing.T) {
	tests := []struct {
		name      string
		tag       string
		steps     []string
		madeIn    Process
		widths    map[string]int
		list      string
		joinedIn  PhaseID
		record    string
		size      int
		allocator string
	}{
		{"16.4", "REL_16_4", []string{"InitPostmasterChild", "ClosePostmasterPorts"}, Postmaster, map[string]int{"3.0": 4, "3.2": 0},
			"BackendList", ParentRegistration, "Backend", 40, "malloc(sizeof(Backend))"},
		{"17.1", "REL_17_1", []string{"ClosePostmasterPorts", "InitPostmasterChild"}, Postmaster, map[string]int{"3.0": 4},
			"BackendList", ParentRegistration, "Backend", 40, "palloc_extended(sizeof(Backend), MCXT_ALLOC_NO_OOM)"},
		{"18.4", "REL_18_4", []string{"ClosePostmasterPorts", "InitPostmasterChild"}, Backend, map[string]int{"3.0": 4, "3.2": 32},
			"ActiveChildList", StructCreation, "PMChild", 48, "AssignPostmasterChildSlot(B_BACKEND)"},
		{"99.1", "REL_99_1", []string{"InitPostmasterChild", "ClosePostmasterPorts"}, Postmaster, map[string]int{"3.0": 4},
			"ClientChildList", ParentRegistration, "ChildRecord", 40, "palloc0_extended(sizeof(ChildRecord), MCXT_ALLOC_NO_OOM)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseManifest(t, tt.name)
			f := r.Facts
			if r.Version.Name != tt.name || r.Version.Tag != tt.tag || r.Version.Release() != r {
				t.Errorf("version %+v, release %p, want %s %s and %p", r.Version, r.Version.Release(), tt.name, tt.tag, r)
			}
			if !slices.Equal(f.Child.Steps, tt.steps) {
				t.Errorf("child steps %v, want %v", f.Child.Steps, tt.steps)
			}
			if f.CancelKey.MadeIn != tt.madeIn {
				t.Errorf("cancel key made in %s, want %s", f.CancelKey.MadeIn, tt.madeIn)
			}
			for proto, n := range tt.widths {
				if got := f.CancelKey.Bytes(proto); got != n {
					t.Errorf("key width for protocol %s = %d, want %d", proto, got, n)
				}
			}
			if f.ChildList.Name != tt.list || f.ChildList.JoinedIn != tt.joinedIn {
				t.Errorf("child list %+v, want %s joined in %s", f.ChildList, tt.list, tt.joinedIn)
			}
			amd64 := f.Record.Layouts["amd64"]
			if f.Record.Type != tt.record || amd64.Size != tt.size {
				t.Errorf("record %s of %d bytes, want %s of %d", f.Record.Type, amd64.Size, tt.record, tt.size)
			}
			if elem, ok := amd64.Field("elem"); !ok || elem.Offset+FieldTypes[elem.Type] != tt.size {
				t.Errorf("elem %+v does not end the record", elem)
			}
			if got := f.Functions.Allocate.String(); got != tt.allocator {
				t.Errorf("allocator %q, want %q", got, tt.allocator)
			}
			for _, sc := range Scenarios {
				if _, err := r.Plan(sc); err != nil {
					t.Errorf("Plan(%s): %v", sc, err)
				}
			}
		})
	}
}

// TestCanonicalPlans: every release plans one stop per phase, the same
// phases in the same processes, so that every driver emits the same
// sequence; only the code points and the values differ.
// TestKeyBytesFor: the key's width follows the version the client asked
// for: the width of the highest listed version at or below it.
func TestKeyBytesFor(t *testing.T) {
	k := CancelKey{Widths: []KeyWidth{{Protocol: "3.0", Bytes: 4}, {Protocol: "3.2", Bytes: 32}}}
	for _, tt := range []struct {
		proto string
		want  int
	}{{"3.0", 4}, {"3.1", 4}, {"3.2", 32}, {"3.3", 32}, {"3.10", 32}, {"2.0", 0}, {"x", 0}} {
		if got := k.BytesFor(tt.proto); got != tt.want {
			t.Errorf("BytesFor(%s) = %d, want %d", tt.proto, got, tt.want)
		}
	}
	if n, ok := ProtocolNumber("3.2"); !ok || n != 0x30002 || ProtocolName(uint32(n)) != "3.2" {
		t.Errorf("ProtocolNumber(3.2) = %x %t", n, ok)
	}
}

func TestCanonicalPlans(t *testing.T) {
	want := map[string]string{
		ScenarioNormal:      "struct-creation/postmaster record-allocated, struct-init/postmaster record-initialized, fork/postmaster fork-returned, child/backend child-cleaned-up, parent-registration/postmaster child-registered, epilogue/client closing-check",
		ScenarioForkFailure: "struct-creation/postmaster record-allocated, struct-init/postmaster record-initialized, fork/postmaster fork-failed, fork-failure/postmaster failure-reported, epilogue/client closing-check",
	}
	// A dead-end child goes through the normal stops.
	want[ScenarioTooManyClients] = want[ScenarioNormal]
	for name := range manifestFiles {
		r := parseManifest(t, name)
		for _, p := range r.Plans {
			var got []string
			for _, s := range p.Stops {
				got = append(got, string(s.Phase)+"/"+string(s.Process)+" "+s.Point)
			}
			if g := strings.Join(got, ", "); g != want[p.Scenario] {
				t.Errorf("%s %s plan:\n got %s\nwant %s", name, p.Scenario, g, want[p.Scenario])
			}
		}
	}
}

func TestParseReleaseRejects(t *testing.T) {
	base := string(readManifest(t, "99.1"))
	tests := []struct {
		name, old, new, want string
	}{
		{"not yaml", "release: \"99.1\"", "release: [", "yaml"},
		{"unknown field", "tag: REL_99_1", "tag: REL_99_1\ncodename: x", "field codename not found"},
		{"bad release", "release: \"99.1\"", "release: \"99\"", "release: \"99\" is not a release number"},
		{"major mismatch", "major: 99", "major: 98", "major: 98 does not match release 99.1"},
		{"no tag", "tag: REL_99_1", "tag: \"\"", "tag: missing"},
		{"unclean file", "  - src/backend/postmaster/childstart.c", "  - ../childstart.c", "is not a clean path"},
		{"file twice", "  - src/backend/postmaster/fork_process.c", "  - src/backend/postmaster/childstart.c", "listed twice"},
		{"no allocator", "function: palloc0_extended", "function: \"\"", "facts.functions.allocate.function: missing"},
		{"odd library", "function: pfree", "function: pfree\n      library: libm", "only libc"},
		{"step twice", "steps: [InitPostmasterChild, ClosePostmasterPorts]", "steps: [InitPostmasterChild, InitPostmasterChild]", "listed twice"},
		{"key made nowhere", "made_in: postmaster", "made_in: client", "postmaster or backend"},
		{"key too wide", "{protocol: \"3.0\", bytes: 4}", "{protocol: \"3.0\", bytes: 300}", "1 to 256 bytes"},
		{"bad protocol", "{protocol: \"3.0\", bytes: 4}", "{protocol: \"4\", bytes: 4}", "not a protocol version"},
		{"checked nowhere", "checked_against: inherited-list", "checked_against: postmaster", "inherited-list or shared-memory"},
		{"list joined at the closing check", "joined_in: parent-registration", "joined_in: epilogue", "not a phase of BackendStartup"},
		{"field past the end", "{name: elem, offset: 24, type: dlist_node}", "{name: elem, offset: 32, type: dlist_node}", "does not fit in 40 bytes"},
		{"fields overlap", "{name: child_slot, offset: 8, type: int32}", "{name: child_slot, offset: 6, type: int32}", "child_slot overlaps cancel_key"},
		{"unknown field type", "{name: dead_end, offset: 16, type: bool}", "{name: dead_end, offset: 16, type: char}", "\"char\" (types"},
		{"no pid field", "{name: pid, offset: 0, type: int32}", "{name: xid, offset: 0, type: int32}", "no pid field"},
		{"unknown normal type", "normal: CHILD_CLIENT", "normal: CHILD_OTHER", "not one of bkend_types"},
		{"CAC_OK not first", "can_accept: [CAC_OK, CAC_STARTUP", "can_accept: [CAC_STARTUP, CAC_OK", "starting with CAC_OK"},
		{"unknown scenario", "  fork-failure:", "  crash:", "unknown scenario \"crash\""},
		{"expected value not reported", "expect: {can_accept: CAC_TOOMANY, dead_end: true, child_slot: 0}", "expect: {can_accept: CAC_TOOMANY, dead_end: true, child_pid: 0}", "expect.child_pid: not one of the stop's values"},
		{"expected value not a scalar", "expect: {can_accept: CAC_TOOMANY, dead_end: true, child_slot: 0}", "expect: {can_accept: [CAC_TOOMANY], dead_end: true, child_slot: 0}", "is not a bool, an integer or a string"},
		{"too many clients, no dead end", "expect: {can_accept: CAC_TOOMANY, dead_end: true, child_slot: 0}", "expect: {can_accept: CAC_TOOMANY}", "expects dead_end: true at no stop"},
		{"unknown phase", "phase: struct-init", "phase: struct-setup", "unknown phase \"struct-setup\""},
		{"unknown process", "      process: backend", "      process: kernel", "unknown process \"kernel\""},
		{"phases out of order", "phase: struct-init", "phase: parent-registration", "cannot come after"},
		{"unknown value", "values: [postmaster_pid, child_pid, fork_return]", "values: [postmaster_pid, child_pid, fork_result]", "unknown value \"fork_result\""},
		{"value twice", "values: [postmaster_pid, child_pid, fork_return]", "values: [postmaster_pid, child_pid, child_pid]", "listed twice"},
		{"no code point", "at: \"launch_client_child, childstart.c:31: fork_process() has returned the child's pid in the postmaster\"", "at: \"\"", "say where in the code"},
		{"point twice", "point: record-initialized", "point: record-allocated", "listed twice"},
		{"no protocol range", "    latest: \"3.1\"", "    latest: \"\"", "facts.protocol.latest: missing"},
		{"earliest after latest", "    earliest: \"3.0\"", "    earliest: \"3.2\"", "earliest 3.2 comes after latest 3.1"},
		{"no key for the earliest", "{protocol: \"3.0\", bytes: 4}", "{protocol: \"3.1\", bytes: 4}", "no width for a client that asks for protocol 3.0"},
		{"a forked log without the pid", "pid={pid} socket={socket}", "socket={socket}", "lacks {pid}"},
		{"cancel request bounds", "request: {min_bytes: 4, max_bytes: 4", "request: {min_bytes: 5, max_bytes: 4", "a cancel key has 1 to 256 bytes"},
		{"a backend's key made nowhere", "made_in: postmaster", "made_in: backend", "facts.cancel_key.at: missing"},
		{"a pool of an unknown type", "  protocol:", "  pool: {backend_type: CHILD_OTHER, size: n, size_at: x, first_slot: 1, empty: CAC_TOOMANY, empty_at: y}\n  protocol:", "facts.pool.backend_type: \"CHILD_OTHER\" is not one of"},
		{"a pool with no dead end", "  protocol:", "  pool: {backend_type: CHILD_CLIENT, size: n, size_at: x, first_slot: 1, empty: CAC_TOOMANY, empty_at: y}\n  protocol:", "facts.functions.allocate_dead_end: missing"},
		{"a pool from slot 0", "  protocol:", "  pool: {backend_type: CHILD_CLIENT, size: n, size_at: x, first_slot: 0, empty: CAC_TOOMANY, empty_at: y}\n  protocol:", "slot numbers start at 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("the fixture has no %q", tt.old)
			}
			_, err := ParseRelease("m.yaml", []byte(strings.Replace(base, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "m.yaml: ") {
				t.Errorf("err = %v, want one from m.yaml mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("no normal plan", func(t *testing.T) {
		in := base[:strings.Index(base, "  normal:\n")] + base[strings.Index(base, "  fork-failure:\n"):]
		if _, err := ParseRelease("m.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), "no plan for the \"normal\" scenario") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a normal plan with a fork failure", func(t *testing.T) {
		in := strings.Replace(base, "phase: parent-registration", "phase: fork-failure", 1)
		if _, err := ParseRelease("m.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), "no fork failure") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a closing check before the end", func(t *testing.T) {
		in := strings.Replace(base, `      values: [postmaster_pid, checks]
  fork-failure:`, `      values: [postmaster_pid, checks]
    - phase: epilogue
      process: client
      point: again
      at: x
  fork-failure:`, 1)
		if _, err := ParseRelease("m.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), "last stop") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCatalog(t *testing.T) {
	c := testCatalog(t)
	if got := strings.Join(c.Names(), ","); got != "16.4,17.1,18.4,99.1" {
		t.Errorf("names %s, want oldest first", got)
	}
	for _, name := range []string{"17.1", "17", "REL_17_1"} {
		r, err := c.Lookup(name)
		if err != nil || r.Version.Name != "17.1" {
			t.Errorf("Lookup(%q) = %v, %v", name, r, err)
		}
	}
	_, err := c.Lookup("15.2")
	if err == nil || !strings.Contains(err.Error(), "16.4, 17.1, 18.4, 99.1") {
		t.Errorf("Lookup(15.2) error %v must name the supported versions", err)
	}
	other := parseManifest(t, "17.1")
	other.Version.Name, other.Version.Tag = "17.2", "REL_17_2"
	two, err := NewCatalog(c.Releases()[1], other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := two.Lookup("17"); err == nil {
		t.Error("a major version with two releases must not name one of them")
	}
	if _, err := NewCatalog(parseManifest(t, "16.4"), parseManifest(t, "16.4")); err == nil {
		t.Error("two releases called 16.4 must be refused")
	}
}

func TestDefaultCatalog(t *testing.T) {
	t.Cleanup(func() { UseCatalog(nil) })
	UseCatalog(nil)
	if _, err := LookupVersion("16.4"); err == nil || !strings.Contains(err.Error(), "annotations") {
		t.Errorf("with no catalog installed: %v, want an error that says what is missing", err)
	}
	if Versions() != nil {
		t.Error("Versions must be empty with no catalog")
	}
	calls := 0
	c := testCatalog(t)
	UseCatalog(func() (*Catalog, error) { calls++; return c, nil })
	for _, name := range []string{"16.4", "16", "REL_16_4"} {
		if v, err := LookupVersion(name); err != nil || v.Name != "16.4" || v.Release() == nil {
			t.Errorf("LookupVersion(%q) = %v, %v", name, v, err)
		}
	}
	if got := strings.Join(VersionNames(), ","); got != "16.4,17.1,18.4,99.1" || len(Versions()) != 4 {
		t.Errorf("VersionNames = %s", got)
	}
	if calls != 1 {
		t.Errorf("the catalog was built %d times, want once", calls)
	}
	UseCatalog(func() (*Catalog, error) { return nil, &ManifestError{File: "x.yaml", Msg: "broken"} })
	if _, err := LookupRelease("16.4"); err == nil || err.Error() != "x.yaml: broken" {
		t.Errorf("a catalog that cannot be built: %v", err)
	}
}

func TestValueKeys(t *testing.T) {
	keys := ValueKeys()
	for _, k := range []string{"postmaster_pid", "cancel_key", "backend_list", "client_backend_key", "checks", "facts"} {
		if !slices.Contains(keys, k) {
			t.Errorf("ValueKeys lacks %s: %v", k, keys)
		}
	}
	v := Values{PostmasterPID: 1, ChildSlot: Int(0), Checks: []Check{{Name: "x", OK: true}}}
	if got := strings.Join(PresentValues(v), ","); got != "postmaster_pid,child_slot,checks" {
		t.Errorf("PresentValues = %s", got)
	}
	if got := MissingValues(v, []string{"checks", "child_pid", "log"}); !slices.Equal(got, []string{"child_pid", "log"}) {
		t.Errorf("MissingValues = %v", got)
	}
}

func TestPlanCheck(t *testing.T) {
	r := parseManifest(t, "16.4")
	plan, _ := r.Plan("")
	observed := func() []Event {
		var evs []Event
		for _, s := range plan.Stops {
			ev := Event{Phase: s.Phase, Process: s.Process}
			for _, k := range s.Values {
				fillValue(&ev.Values, k)
			}
			evs = append(evs, ev)
		}
		return evs
	}
	if err := plan.Check(observed(), true); err != nil {
		t.Errorf("a run that follows the plan: %v", err)
	}
	narrated := observed()[:len(plan.Stops)-1]
	for i := range narrated {
		narrated[i].Values = Values{}
	}
	if err := plan.Check(narrated, false); err != nil {
		t.Errorf("a narration that follows the plan: %v", err)
	}
	tests := []struct {
		name   string
		change func([]Event) []Event
		want   string
	}{
		{"a stop too many", func(evs []Event) []Event { return append(evs[:3:3], append([]Event{evs[2]}, evs[3:]...)...) }, "7 stops"},
		{"no closing check", func(evs []Event) []Event { return evs[:len(evs)-1] }, "5 stops"},
		{"wrong process", func(evs []Event) []Event { evs[3].Process = Postmaster; return evs }, "stop 4 differs from the plan: child in the postmaster"},
		{"wrong order", func(evs []Event) []Event { evs[3], evs[4] = evs[4], evs[3]; return evs }, "stop 4 differs"},
		{"a value missing", func(evs []Event) []Event { evs[2].Values.ForkReturn = nil; return evs }, "fork (fork-returned) lacks fork_return"},
	}
	// The too-many-clients plan expects a dead end where the normal plan
	// only asks for the values.
	full, err := r.Plan(ScenarioTooManyClients)
	if err != nil {
		t.Fatal(err)
	}
	evs := observed()
	if err := full.Check(evs, true); err == nil || !strings.Contains(err.Error(), "stop 2 differs from the plan: struct-init (record-initialized) has can_accept \"CAC_OK\", the plan expects \"CAC_TOOMANY\", child_slot 1, the plan expects 0, dead_end false, the plan expects true") {
		t.Errorf("a normal connection against the too-many-clients plan: %v", err)
	}
	evs[1].Values.CanAccept, evs[1].Values.ChildSlot, evs[1].Values.DeadEnd = "CAC_TOOMANY", Int(0), Bool(true)
	if err := full.Check(evs, true); err != nil {
		t.Errorf("a dead end against the too-many-clients plan: %v", err)
	}
	evs[1].Values.ChildSlot = nil
	if err := full.Check(evs, true); err == nil || !strings.Contains(err.Error(), "lacks child_slot") {
		t.Errorf("a dead end without its slot: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := plan.Check(tt.change(observed()), true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// fillValue sets the field of v whose JSON name is key to a value.
func fillValue(v *Values, key string) {
	switch key {
	case "postmaster_pid":
		v.PostmasterPID = 1
	case "child_pid":
		v.ChildPID = 2
	case "cancel_key":
		v.CancelKey = Int32(3)
	case "can_accept":
		v.CanAccept = "CAC_OK"
	case "dead_end":
		v.DeadEnd = Bool(false)
	case "child_slot":
		v.ChildSlot = Int(1)
	case "backend":
		v.Backend = &BackendNode{PID: 2}
	case "fork_return":
		v.ForkReturn = Int(2)
	case "fds_before":
		v.FDsBefore = []FD{{Num: 3}}
	case "fds_after":
		v.FDsAfter = []FD{{Num: 4}}
	case "closed_fds":
		v.ClosedFDs = []FD{{Num: 3}}
	case "backend_list":
		v.BackendList = []BackendNode{{PID: 2}}
	case "log":
		v.Log = []string{"x"}
	case "errno":
		v.Errno = &Errno{Code: 11}
	case "checks":
		v.Checks = []Check{{Name: "x", OK: true}}
	default:
		panic("fillValue: no value for " + key)
	}
}

// TestLiveFacts: the facts the live driver reads where the releases
// differ, and the checks on them.
func TestLiveFacts(t *testing.T) {
	tests := []struct {
		name          string
		socket        string
		raddr         int
		deadEnd       string
		filledBy      string
		closeFunction string
	}{
		{"16.4", "Port", 152, "", "pg_strong_random", "close"},
		{"17.1", "ClientSocket", 8, "", "pg_strong_random", "close"},
		{"18.4", "ClientSocket", 8, "B_DEAD_END_BACKEND", "pg_strong_random", "close"},
	}
	for _, tt := range tests {
		f := parseManifest(t, tt.name).Facts
		l := f.ClientSocket.Layouts["amd64"]
		if f.ClientSocket.Type != tt.socket || l.Sock != 0 || l.RAddr != tt.raddr {
			t.Errorf("%s: client socket %+v", tt.name, f.ClientSocket)
		}
		if f.Record.DeadEnd != tt.deadEnd || f.CancelKey.FilledBy != tt.filledBy ||
			f.Functions.CloseSocket.Function != tt.closeFunction || f.Functions.CloseSocket.Library != "libc" {
			t.Errorf("%s: dead end %q, key filled by %q, socket closed by %+v", tt.name, f.Record.DeadEnd, f.CancelKey.FilledBy, f.Functions.CloseSocket)
		}
	}
	r := parseManifest(t, "18.4")
	if n, ok := r.Facts.Record.Value("B_DEAD_END_BACKEND"); !ok || n != 2 || r.Facts.Record.TypeName(6) != "B_WAL_SENDER" || r.Facts.Record.TypeName(99) != "bkend_type(99)" {
		t.Errorf("bkend_type names: %d %v %s", n, ok, r.Facts.Record.TypeName(6))
	}
	base := string(readManifest(t, "18.4"))
	for _, tt := range []struct{ name, old, new, want string }{
		{"dead end of no type", "dead_end: B_DEAD_END_BACKEND", "dead_end: B_ZOMBIE", "facts.record.dead_end"},
		{"dead end the normal type", "dead_end: B_DEAD_END_BACKEND", "dead_end: B_BACKEND", "other than normal"},
		{"address on the socket", "amd64: {sock: 0, raddr: 8}", "amd64: {sock: 0, raddr: 0}", "facts.client_socket.layouts.amd64.raddr"},
		{"socket of no type", "  client_socket:\n    type: ClientSocket\n", "  client_socket:\n    type: \"\"\n", "facts.client_socket.type: missing"},
		{"close from another library", "function: close\n      library: libc", "function: close\n      library: libm", "facts.functions.close_socket.library"},
	} {
		if !strings.Contains(base, tt.old) {
			t.Fatalf("%s: the 18.4 manifest has no %q", tt.name, tt.old)
		}
		_, err := ParseRelease("m.yaml", []byte(strings.Replace(base, tt.old, tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}
