package live

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file turns a release's manifest into the table the walk runs on:
// the probe points, which say where to stop and what tells the
// connection's call from other calls, without saying how (int3, a debug
// register, or a mechanism a later driver brings). Nothing here knows a
// release: a release whose facts the walk cannot follow gets a
// *walkthrough.UnsupportedError that names the fact.

// The child's cleanup steps the walk knows, by the names every release
// gives them (the manifest orders them). The re-enactment knows the same
// two.
const (
	stepClosePorts = "ClosePostmasterPorts"
	stepInitChild  = "InitPostmasterChild"
)

// statusOK is STATUS_OK (c.h): what the accept function returns for a
// connection it accepted.
const statusOK = 0

// point is one function the walk breaks at: at its entry, and (where the
// walk asks) at its return.
type point struct {
	// fn is the symbol, "" when the release has no such call.
	fn string
	// libc is set for a function of the C library.
	libc bool
	// args are argument values that tell the connection's call from other
	// calls of the same function (the manifest's Arg.Value).
	args []argValue
	// call is the call as the source writes it, for the facts.
	call string
}

// argValue is the value argument i has in the call the walk wants.
type argValue struct {
	i int
	v int64
}

func pointOf(c walkthrough.Call) point {
	p := point{fn: c.Function, libc: c.Library == "libc", call: c.String()}
	for i, a := range c.Args {
		if a.Value != nil {
			p.args = append(p.args, argValue{i, *a.Value})
		}
	}
	return p
}

// matches reports whether the arguments of a call (by index) are the
// point's.
func (p point) matches(arg func(i int) uint64) bool {
	for _, a := range p.args {
		if int64(arg(a.i)) != a.v && int64(int32(arg(a.i))) != a.v {
			return false
		}
	}
	return true
}

// table is what the walk needs to know about one release, read from its
// manifest.
type table struct {
	release string
	// plan is the normal plan, the one the walk follows; failure is the
	// fork-failure plan, which a fork that fails for real follows.
	plan    walkthrough.StopPlan
	failure walkthrough.StopPlan
	startup string // "BackendStartup"

	// The postmaster's calls, in no particular order: the walk follows
	// whatever order the release makes them in.
	gate     point // the accept function: accepts the client's socket
	accept   point // decides whether the connection may become a backend
	allocate point // allocates the record of the child
	deadEnd  point // allocates a dead-end child's record, where separate
	slot     point // hands out the child slot, where separate from allocate
	launch   point // launches the child, where it is a function of its own
	fork     point // returns twice
	close    point // closes the postmaster's copy of the client socket

	// steps are the child's cleanup steps, in the release's order, and run
	// its path after them.
	steps []string
	run   []string

	// The variables the walk reads.
	keyVar, keyLenVar, slotVar, pidVar, aliveFDs, syslogPipe string
	// list is the postmaster's list of children; joinedAtRegistration says
	// a child's record joins it after the fork, not at allocation.
	list                 string
	joinedAtRegistration bool

	// keyInPostmaster says the postmaster makes the cancel key before the
	// fork (a backend inherits it); otherwise the backend makes it with
	// keyFill, given &keyVar and the length.
	keyInPostmaster bool
	keyFill         point
	keyMadeBy       string // "PostgresMain", "RandomCancelKey"

	rec    recordLayout
	socket walkthrough.SocketLayout
	// socketType names the record the accept function fills.
	socketType string
	cac        []string
	inlined    []string
}

// newTable reads r's facts for architecture arch.
func newTable(r *walkthrough.Release, arch string) (*table, error) {
	unsupported := func(what, why string) error {
		return &walkthrough.UnsupportedError{Driver: "live", Release: r.Version.Name, What: what, Why: why}
	}
	f := r.Facts
	plan, err := r.Plan(walkthrough.ScenarioNormal)
	if err != nil {
		return nil, err
	}
	var got []string
	for _, s := range plan.Stops {
		got = append(got, string(s.Phase)+"/"+string(s.Process))
	}
	if want := []string{"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"child/backend", "parent-registration/postmaster", "epilogue/client"}; !slices.Equal(got, want) {
		return nil, unsupported("its normal plan stops at "+strings.Join(got, ", "),
			"the live driver stops at "+strings.Join(want, ", "))
	}
	t := &table{
		release:  r.Version.Name,
		plan:     plan,
		startup:  f.Startup.Function,
		gate:     point{fn: f.Functions.AcceptSocket},
		accept:   pointOf(f.Functions.Accept),
		allocate: pointOf(f.Functions.Allocate),
		deadEnd:  pointOf(f.Functions.AllocateDeadEnd),
		launch:   pointOf(f.Functions.Launch),
		fork:     pointOf(f.Functions.Fork),
		close:    pointOf(f.Functions.CloseSocket),
		steps:    f.Child.Steps,
		run:      f.Functions.Run,
		keyVar:   f.CancelKey.Variable, keyLenVar: f.CancelKey.LengthVariable,
		slotVar: f.Symbols.Variables.ChildSlot, pidVar: f.Symbols.Variables.ProcPID,
		aliveFDs: f.Symbols.Variables.AliveFDs, syslogPipe: f.Symbols.Variables.SyslogPipe,
		list:                 f.ChildList.Name,
		joinedAtRegistration: f.ChildList.JoinedIn == walkthrough.ParentRegistration,
		keyInPostmaster:      f.CancelKey.MadeIn == walkthrough.Postmaster,
		keyFill:              point{fn: f.CancelKey.FilledBy},
		keyMadeBy:            f.CancelKey.Function,
		socketType:           f.ClientSocket.Type,
		cac:                  f.CanAccept,
		inlined:              f.Symbols.Inlined,
	}
	t.failure, _ = r.Plan(walkthrough.ScenarioForkFailure)
	if f.Functions.AssignSlot.Function != f.Functions.Allocate.Function {
		t.slot = pointOf(f.Functions.AssignSlot)
	}
	if f.ChildList.JoinedIn != walkthrough.ParentRegistration && f.ChildList.JoinedIn != walkthrough.StructCreation {
		return nil, unsupported(fmt.Sprintf("a child joins %s in %s", f.ChildList.Name, f.ChildList.JoinedIn),
			"the live driver reads the list at allocation or at registration")
	}
	steps := slices.Clone(f.Child.Steps)
	slices.Sort(steps)
	if !slices.Equal(steps, []string{stepClosePorts, stepInitChild}) {
		return nil, unsupported("the child's steps are "+strings.Join(f.Child.Steps, ", "),
			fmt.Sprintf("the live driver knows the steps %s and %s, in either order", stepInitChild, stepClosePorts))
	}
	if !t.keyInPostmaster && t.keyFill.fn == "" {
		return nil, unsupported(fmt.Sprintf("its cancel key is made in the %s (%s), and the manifest names no call that fills %s (facts.cancel_key.filled_by)",
			f.CancelKey.MadeIn, f.CancelKey.Function, f.CancelKey.Variable), "the live driver reads a key made there when that call returns")
	}
	if !t.keyInPostmaster && f.CancelKey.MadeIn != walkthrough.Backend {
		return nil, unsupported("its cancel key is made in the "+string(f.CancelKey.MadeIn), "the live driver reads keys made in the postmaster or the backend")
	}
	if t.gate.fn != "" {
		l, ok := f.ClientSocket.Layouts[arch]
		if !ok {
			return nil, unsupported(fmt.Sprintf("its manifest gives no layout of the record %s fills on %s (facts.client_socket)", t.gate.fn, arch),
				"the live driver reads the client's address there to tell its own connection from others")
		}
		t.socket = l
	}
	l, ok := f.Record.Layouts[arch]
	if !ok {
		return nil, unsupported(fmt.Sprintf("its manifest gives no layout of %s on %s", f.Record.Type, arch), "the live driver reads the record from memory")
	}
	if t.rec, err = newRecordLayout(f.Record, l); err != nil {
		return nil, unsupported(err.Error(), "the live driver reads the record from memory")
	}
	return t, nil
}

// stopAt returns the stop of phase in plan p (a plan has one per phase).
func stopAt(p walkthrough.StopPlan, phase walkthrough.PhaseID) walkthrough.PlannedStop {
	for _, s := range p.Stops {
		if s.Phase == phase {
			return s
		}
	}
	return walkthrough.PlannedStop{Phase: phase}
}

// cacName returns the enum name of a canAcceptConnections result.
func (t *table) cacName(v int) string {
	if v >= 0 && v < len(t.cac) {
		return t.cac[v]
	}
	return fmt.Sprintf("CAC_state(%d)", v)
}
