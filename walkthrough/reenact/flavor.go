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
	// childPath says which of PostgreSQL's two launch paths the child's
	// order of steps follows.
	childPath string
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

	// err says why the driver cannot re-enact the release; nil when it can.
	err error
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
)

// sequences are the stops the re-enactment reports, per scenario: a
// release's plans must be these for the driver to walk it.
var sequences = map[string][]string{
	walkthrough.ScenarioNormal: {"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"child/backend", "parent-registration/postmaster", "epilogue/client"},
	walkthrough.ScenarioForkFailure: {"struct-creation/postmaster", "struct-init/postmaster", "fork/postmaster",
		"fork-failure/postmaster", "epilogue/client"},
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
	fl.childPath = childPath(r)
	fl.paramFile = f.Cites["param_file"]
	fl.cancelCheck = f.Cites["cancel_check"]
	fl.signalChild = f.Cites["signal_child"]
	fl.serverLoopClose = f.Cites["server_loop_close"]
	fl.err = supports(r)
	return fl
}

// supports returns nil when the re-enactment can walk r, and otherwise a
// *walkthrough.UnsupportedError that says which fact it cannot follow.
func supports(r *walkthrough.Release) error {
	unsupported := func(what, why string) error {
		return &walkthrough.UnsupportedError{Driver: "reenact", Release: r.Version.Name, What: what, Why: why}
	}
	f := r.Facts
	if f.CancelKey.MadeIn != walkthrough.Postmaster || !f.CancelKey.InRecord {
		return unsupported(fmt.Sprintf("its cancel key is made in the %s (%s)", f.CancelKey.MadeIn, f.CancelKey.Function),
			"the re-enactment makes the key in its postmaster and keeps it in the record, before the fork")
	}
	if f.CancelKey.Bytes("3.0") != 4 || len(f.CancelKey.Widths) != 1 {
		return unsupported("its cancel key is not one int32 for every client", "the re-enactment's keys are 4 bytes")
	}
	if f.ChildList.JoinedIn != walkthrough.ParentRegistration {
		return unsupported(fmt.Sprintf("a child joins %s in %s", f.ChildList.Name, f.ChildList.JoinedIn),
			"the re-enactment puts it on the list at registration")
	}
	var initSteps []string
	for _, st := range f.StructInit {
		initSteps = append(initSteps, st.Role)
	}
	slices.Sort(initSteps)
	if known := []string{initBgworker, initCancelKey, initCanAccept, initSlot, initDeadEnd, initRandomKey}; !slices.Equal(initSteps, sorted(known)) {
		return unsupported(fmt.Sprintf("its struct init has the roles %s", strings.Join(initSteps, ", ")),
			"the re-enactment's struct init performs the roles "+strings.Join(sorted(known), ", ")+", in any order")
	}
	for _, key := range []string{"param_file", "cancel_check", "signal_child", "server_loop_close"} {
		if f.Cites[key] == "" {
			return unsupported("its manifest cites no "+key, "the re-enactment names that place in its observations")
		}
	}
	steps := slices.Clone(f.Child.Steps)
	slices.Sort(steps)
	if !slices.Equal(steps, []string{stepClosePorts, stepInitChild}) {
		return unsupported(fmt.Sprintf("the child's steps are %s", strings.Join(f.Child.Steps, ", ")),
			fmt.Sprintf("the re-enactment's child performs %s and %s, in either order", stepInitChild, stepClosePorts))
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

// childPath says which of the release's launch paths the child's order of
// steps follows: the fork path's, and the EXEC_BACKEND path's where that
// differs.
func childPath(r *walkthrough.Release) string {
	c := r.Facts.Child
	order := strings.Join(c.Steps, ", then ")
	if slices.Equal(c.Steps, c.ExecSteps) {
		return fmt.Sprintf("%s: the order of both of %s's paths (fork: %s; EXEC_BACKEND's %s: %s)",
			order, r.Version.Name, c.ForkAt, c.ExecEntry, c.ExecAt)
	}
	return fmt.Sprintf("%s: the order of %s's fork path (%s); its EXEC_BACKEND path, %s, runs %s (%s)",
		order, r.Version.Name, c.ForkAt, c.ExecEntry, strings.Join(c.ExecSteps, ", then "), c.ExecAt)
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
