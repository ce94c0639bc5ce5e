package reenact

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// flavor holds what the driver re-enacts differently from one release to
// another: names and orders read from the release's manifest
// (walkthrough.Facts). The driver never looks at a version number.
type flavor struct {
	version string
	// allocator is how BackendStartup allocates the postmaster's record.
	allocator string
	// release is how the fork-failure branch gives it back.
	release string
	// record is the record's C type: "Backend".
	record string
	// connParam and connStruct are BackendStartup's connection parameter
	// and what it receives for the connection.
	connParam  string
	connStruct string
	// canAcceptField is where the canAcceptConnections result travels to
	// the child.
	canAcceptField string
	// launch is the call that creates the child in an EXEC_BACKEND build.
	launch string
	// steps are the child's first steps, in the release's order.
	steps []string
	// freeInChild is true when the forked child frees its copy of the
	// postmaster's record.
	freeInChild bool
	// execArgv is how PostgreSQL's EXEC_BACKEND path runs the new backend.
	execArgv string
	// backendMain is the path from the child's cleanup to PostgresMain.
	backendMain string
	// bkendNormal is what registration stores in the record's bkend_type.
	bkendNormal string
	// initSteps are what struct init sets, in the release's order.
	initSteps []walkthrough.InitStep
	// whichPath says which of PostgreSQL's two launch paths the child's
	// order of steps follows.
	whichPath walkthrough.Fact
	// paramFile is where EXEC_BACKEND writes MyCancelKey and
	// MyPMChildSlot for the child.
	paramFile string
	// cancelCheck is where the child reads a CancelRequest and searches
	// the list.
	cancelCheck string
	// signalChild is where signal_child is defined.
	signalChild string
	// serverLoopClose is where ServerLoop closes the postmaster's copy of
	// the client socket after BackendStartup returns.
	serverLoopClose string

	// facts are the release's facts, for what the fields above do not
	// spell out: the pool, where the key is made, when a child joins the
	// list (the driver branches on these, never on a version).
	facts walkthrough.Facts
	// wire is what the backend needs to know of the release; the
	// postmaster hands it over with the backend variables.
	wire wireFacts

	// err says why the driver cannot re-enact the release; nil when it can.
	err error
}

// wireFacts are the facts of a release that the backend process needs:
// the protocol versions it speaks, where its cancel key comes from and how
// long it is, and how a cancel request is checked. The postmaster sends
// them with the backend variables, so that the child looks nothing up.
type wireFacts struct {
	// Earliest and Latest are the protocol versions the release speaks,
	// as PG_PROTOCOL numbers (major<<16 | minor).
	Earliest uint32 `json:"earliest"`
	Latest   uint32 `json:"latest"`
	// KeyWidths are the widths of the key by the protocol version the
	// client asks for, when the backend makes its own key; empty when the
	// postmaster made it (backendVars.CancelKey).
	KeyWidths []walkthrough.KeyWidth `json:"key_widths,omitempty"`
	// CancelMin and CancelMax bound the key of a CancelRequest, and
	// ShortLog and BadLengthLog are what is logged for one that is too
	// short to hold a pid or whose key has another length.
	CancelMin    int    `json:"cancel_min"`
	CancelMax    int    `json:"cancel_max"`
	ShortLog     string `json:"short_log"`
	BadLengthLog string `json:"bad_length_log"`
	// SharedKeys is true when a cancel request is checked against the
	// keys the backends published in shared memory, false when against
	// the child's copy of the postmaster's list.
	SharedKeys bool `json:"shared_keys,omitempty"`
}

// keyBytes returns the width of the key the backend makes for a client
// that asked for protocol proto, 0 when the backend makes no key.
func (w wireFacts) keyBytes(proto uint32) int {
	if len(w.KeyWidths) == 0 {
		return 0
	}
	return walkthrough.CancelKey{Widths: w.KeyWidths}.BytesFor(walkthrough.ProtocolName(proto))
}

// The names of the child's steps, as PostgreSQL names the functions: the
// steps the re-enactment knows how to perform.
const (
	stepInitChild  = "InitPostmasterChild"
	stepClosePorts = "ClosePostmasterPorts"
)

// The roles of the steps of struct init that the re-enactment knows how to
// perform (walkthrough.InitStep.Role); the manifest names them as the
// release's code does.
const (
	initRandomKey = "random_key"
	initCancelKey = "record_key"
	initCanAccept = "accept"
	initDeadEnd   = "dead_end"
	initSlot      = "slot"
	initBgworker  = "bgworker_notify"
	// With a pool, struct init passes the accept decision (taken at
	// struct creation) on to the child and clears the entry's rw.
	initPassAccept = "pass_accept"
	initClearRW    = "clear_rw"
)

// sequences are the stops the re-enactment reports, per scenario: a
// release's plans must be these for the driver to walk it.
var sequences = map[string][]string{
	walkthrough.ScenarioNormal: {"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"child/backend", "parent-registration/postmaster", "epilogue/client"},
	walkthrough.ScenarioForkFailure: {"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"fork-failure/postmaster", "epilogue/client"},
	// A dead-end child is launched, cleans up and is registered as any
	// other.
	walkthrough.ScenarioTooManyClients: {"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"child/backend", "parent-registration/postmaster", "epilogue/client"},
}

// flavorFor reads v's manifest. A release the re-enactment cannot walk
// gets a flavor whose err says why (Start returns it).
func flavorFor(v walkthrough.Version) flavor {
	fl := flavor{version: v.Name}
	r := v.Release()
	if r == nil {
		fl.err = fmt.Errorf("reenact: PostgreSQL %q has no release manifest", v.Name)
		return fl
	}
	f := r.Facts
	fl.allocator = f.Functions.Allocate.String()
	fl.release = f.Functions.Release.String()
	fl.record = f.Record.Type
	fl.connParam = f.Startup.Param
	fl.connStruct = f.Startup.ParamType
	if f.Startup.StartupData != "" {
		fl.connStruct += " + " + f.Startup.StartupData
	}
	fl.canAcceptField = f.Startup.CanAcceptField
	fl.launch = f.Functions.Launch.String()
	if f.Child.ForkExec != "" {
		fl.launch += " -> " + f.Child.ForkExec
	}
	fl.steps = f.Child.Steps
	fl.freeInChild = f.Child.FreesRecord
	fl.execArgv = f.Child.Exec
	fl.backendMain = strings.Join(f.Functions.Run, " -> ")
	fl.bkendNormal = f.Record.Normal
	fl.initSteps = f.StructInit
	fl.whichPath = whichPath(r)
	fl.paramFile = f.Cites["param_file"]
	fl.cancelCheck = f.Cites["cancel_check"]
	fl.signalChild = f.Cites["signal_child"]
	fl.serverLoopClose = f.Cites["server_loop_close"]
	fl.facts = f
	fl.wire = wireFactsOf(f)
	fl.err = supports(r)
	return fl
}

// wireFactsOf returns what the backend needs to know of facts f.
func wireFactsOf(f walkthrough.Facts) wireFacts {
	earliest, _ := walkthrough.ProtocolNumber(f.Protocol.Earliest)
	latest, _ := walkthrough.ProtocolNumber(f.Protocol.Latest)
	w := wireFacts{
		Earliest: uint32(earliest), Latest: uint32(latest),
		CancelMin: f.CancelKey.Request.MinBytes, CancelMax: f.CancelKey.Request.MaxBytes,
		ShortLog: f.CancelKey.Request.ShortLog, BadLengthLog: f.CancelKey.Request.BadLengthLog,
		SharedKeys: f.CancelKey.CheckedAgainst == walkthrough.CheckSharedMemory,
	}
	if f.CancelKey.MadeIn == walkthrough.Backend {
		w.KeyWidths = f.CancelKey.Widths
	}
	return w
}

// pooled reports whether a connection's record comes from a fixed pool:
// canAcceptConnections answers before the allocation and counts no
// children, an empty pool means "too many", and a refused connection gets
// a dead-end record of a type of its own.
func (f flavor) pooled() bool { return f.facts.Pool != nil }

// keyInPostmaster reports whether the postmaster makes the cancel key
// before the fork (and the child inherits it); otherwise the backend makes
// its own, after the fork.
func (f flavor) keyInPostmaster() bool { return f.facts.CancelKey.MadeIn == walkthrough.Postmaster }

// listAtAllocation reports whether a child's record joins the postmaster's
// list when it is allocated, before the fork, rather than at registration.
func (f flavor) listAtAllocation() bool {
	return f.facts.ChildList.JoinedIn == walkthrough.StructCreation
}

// exitName returns how the postmaster names a backend of bkendType when it
// logs its exit.
func (f flavor) exitName(bkendType string) string {
	return strings.ReplaceAll(f.facts.ExitName, "{type}", f.facts.Record.Desc(bkendType))
}

// sharedKeys reports whether a cancel request is checked against the keys
// the backends published in shared memory.
func (f flavor) sharedKeys() bool { return f.wire.SharedKeys }

// forkedLog returns the DEBUG2 line of a successful fork.
func (f flavor) forkedLog(bkendType string, pid, socket int) string {
	return strings.NewReplacer("{type}", f.facts.Record.Desc(bkendType),
		"{pid}", fmt.Sprint(pid), "{socket}", fmt.Sprint(socket)).Replace(f.facts.ForkedLog)
}

// supports returns nil when the re-enactment can walk r, and otherwise a
// *walkthrough.UnsupportedError that says which fact it cannot follow.
func supports(r *walkthrough.Release) error {
	unsupported := func(what, why string) error {
		return &walkthrough.UnsupportedError{Driver: "reenact", Release: r.Version.Name, What: what, Why: why}
	}
	f := r.Facts
	keyInPM := f.CancelKey.MadeIn == walkthrough.Postmaster
	if keyInPM != f.CancelKey.InRecord {
		return unsupported(fmt.Sprintf("its cancel key is made in the %s (%s), in_record %t", f.CancelKey.MadeIn, f.CancelKey.Function, f.CancelKey.InRecord),
			"the re-enactment keeps a key in the record exactly when the postmaster makes it")
	}
	if keyInPM {
		if len(f.CancelKey.Widths) != 1 || f.CancelKey.Widths[0].Bytes != 4 {
			return unsupported("its postmaster makes a cancel key that is not one int32 for every client",
				"a key the re-enactment's postmaster makes is 4 bytes, as RandomCancelKey's")
		}
	}
	for _, w := range f.CancelKey.Widths {
		if w.Bytes > maxKeyBytes {
			return unsupported(fmt.Sprintf("its cancel key has %d bytes for protocol %s", w.Bytes, w.Protocol),
				fmt.Sprintf("the re-enactment's shared key table holds keys of up to %d bytes", maxKeyBytes))
		}
	}
	if f.CancelKey.CheckedAgainst == walkthrough.CheckInheritedList && !f.CancelKey.InRecord {
		return unsupported("its cancel requests are checked against the list, whose records hold no key",
			"the re-enactment checks a list only for keys in the records")
	}
	if f.CancelKey.CheckedAgainst == walkthrough.CheckSharedMemory && keyInPM {
		return unsupported("its postmaster makes the key and cancel requests are checked in shared memory",
			"the re-enactment's backends publish only keys they made themselves")
	}
	switch f.ChildList.JoinedIn {
	case walkthrough.StructCreation:
		if f.Pool == nil {
			return unsupported(fmt.Sprintf("a child joins %s in %s, and its record comes from no pool", f.ChildList.Name, f.ChildList.JoinedIn),
				"the re-enactment puts a record on the list at allocation only when it takes it from a pool, whose allocator pushes it")
		}
	case walkthrough.ParentRegistration:
	default:
		return unsupported(fmt.Sprintf("a child joins %s in %s", f.ChildList.Name, f.ChildList.JoinedIn),
			"the re-enactment puts a record on the list at allocation or at registration")
	}
	var roles []string
	for _, st := range f.StructInit {
		roles = append(roles, st.Role)
	}
	want := []string{initBgworker}
	if f.Pool != nil {
		want = append(want, initPassAccept, initClearRW)
	} else {
		want = append(want, initCanAccept, initDeadEnd, initSlot)
	}
	if keyInPM {
		want = append(want, initRandomKey, initCancelKey)
	}
	if !slices.Equal(sorted(roles), sorted(want)) {
		return unsupported(fmt.Sprintf("its struct init has the roles %s", strings.Join(roles, ", ")),
			"for these facts the re-enactment's struct init performs the roles "+strings.Join(sorted(want), ", ")+", in any order")
	}
	cites := []string{"param_file", "cancel_check", "server_loop_close", "report_fork_failure"}
	if f.CancelKey.CheckedAgainst == walkthrough.CheckInheritedList {
		cites = append(cites, "signal_child")
	}
	for _, key := range cites {
		if f.Cites[key] == "" {
			return unsupported("its manifest cites no "+key, "the re-enactment names that place in its observations")
		}
	}
	if !slices.Equal(sorted(f.Child.Steps), []string{stepClosePorts, stepInitChild}) {
		return unsupported(fmt.Sprintf("the child's steps are %s", strings.Join(f.Child.Steps, ", ")),
			fmt.Sprintf("the re-enactment's child performs %s and %s, in either order", stepInitChild, stepClosePorts))
	}
	if f.Protocol.Latest != "" {
		if major, _ := walkthrough.ProtocolNumber(f.Protocol.Latest); major>>16 != 3 {
			return unsupported("it speaks protocol "+f.Protocol.Latest, "the re-enactment's backend speaks protocol 3")
		}
	}
	for _, p := range r.Plans {
		var got []string
		for _, s := range p.Stops {
			got = append(got, string(s.Phase)+"/"+string(s.Process))
		}
		if want := sequences[p.Scenario]; !slices.Equal(got, want) {
			return unsupported(fmt.Sprintf("its %s plan stops at %s", p.Scenario, strings.Join(got, ", ")),
				"the re-enactment stops at "+strings.Join(want, ", "))
		}
	}
	return nil
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// whichPath says which of the release's launch paths the child's order of
// steps follows: the fork path's, and the EXEC_BACKEND path's where that
// differs.
func whichPath(r *walkthrough.Release) walkthrough.Fact {
	c := r.Facts.Child
	first, second := twoSteps(c.Steps)
	if slices.Equal(c.Steps, c.ExecSteps) {
		return fact("fact.reenact.which_path_both", "first", first, "second", second, "version", r.Version.Name,
			"fork_at", c.ForkAt, "exec_entry", c.ExecEntry, "exec_at", c.ExecAt)
	}
	execFirst, execSecond := twoSteps(c.ExecSteps)
	return fact("fact.reenact.which_path_fork", "first", first, "second", second, "version", r.Version.Name,
		"fork_at", c.ForkAt, "exec_entry", c.ExecEntry, "exec_first", execFirst, "exec_second", execSecond, "exec_at", c.ExecAt)
}

// twoSteps returns the child's two first steps (InitPostmasterChild and
// ClosePostmasterPorts, in the release's order), by name; a list of
// another length is joined into first, so that nothing is lost.
func twoSteps(steps []string) (first, second string) {
	if len(steps) == 2 {
		return steps[0], steps[1]
	}
	return strings.Join(steps, " → "), ""
}

// Supports returns nil when the re-enactment can walk v, and otherwise an
// error that says why (a *walkthrough.UnsupportedError for a release whose
// facts it cannot follow).
func Supports(v walkthrough.Version) error { return flavorFor(v).err }

// childSteps returns the child's first two steps in the release's order.
func (f flavor) childSteps() []string { return f.steps }

// connArg is the name of BackendStartup's parameter.
func (f flavor) connArg() string { return f.connParam }

// serverVersion is what the backend reports in ParameterStatus.
func (f flavor) serverVersion() string {
	return f.version + " (pgwalk re-enactment)"
}
