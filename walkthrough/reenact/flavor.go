package reenact

import "github.com/pgwalk/pgwalk/walkthrough"

// flavor holds what differs between the releases the driver re-enacts:
// names and orders taken from each release's BackendStartup.
type flavor struct {
	version string
	// allocator is how BackendStartup allocates the Backend record.
	allocator string
	// release is how the fork-failure branch gives it back.
	release string
	// connStruct is what BackendStartup receives for the connection.
	connStruct string
	// canAcceptField is where the canAcceptConnections result travels to
	// the child.
	canAcceptField string
	// launch is the call that creates the child in an EXEC_BACKEND build.
	launch string
	// closeFirst is true when the child runs ClosePostmasterPorts before
	// InitPostmasterChild (17.1), false for the other order (16.4).
	closeFirst bool
	// freeInChild is true when the forked child frees its copy of the
	// Backend record (16.4).
	freeInChild bool
	// execArgv is how PostgreSQL's EXEC_BACKEND path runs the new backend.
	execArgv string
	// backendMain is the path from the child branch to PostgresMain.
	backendMain string
	// initKeyFirst is true when bn->cancel_key is set right after
	// RandomCancelKey, before canAcceptConnections (16.4); false when it
	// is set after dead_end (17.1).
	initKeyFirst bool
	// initLines are the struct-init lines of BackendStartup, by step.
	initLines map[string]string
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
}

// The steps of struct init, as PostgreSQL names what they set.
const (
	initRandomKey = "RandomCancelKey"
	initCancelKey = "bn->cancel_key"
	initCanAccept = "canAcceptConnections"
	initDeadEnd   = "dead_end"
	initSlot      = "child_slot"
	initBgworker  = "bgworker_notify"
)

// initSteps returns the struct-init steps in the release's order.
func (f flavor) initSteps() []string {
	if f.initKeyFirst {
		return []string{initRandomKey, initCancelKey, initCanAccept, initDeadEnd, initSlot, initBgworker}
	}
	return []string{initRandomKey, initCanAccept, initDeadEnd, initCancelKey, initSlot, initBgworker}
}

func flavorFor(v walkthrough.Version) flavor {
	if v.Major >= 17 {
		return flavor{
			version:        v.Name,
			allocator:      "palloc_extended(MCXT_ALLOC_NO_OOM)",
			release:        "pfree(bn)",
			connStruct:     "ClientSocket + BackendStartupData",
			canAcceptField: "startup_data.canAcceptConnections",
			launch:         "postmaster_child_launch(B_BACKEND, ...) -> internal_forkexec",
			closeFirst:     true,
			execArgv:       "postgres --forkchild=backend <backend_var file>",
			backendMain:    "BackendMain -> BackendInitialize -> PostgresMain",
			initLines: map[string]string{
				initRandomKey: "3568", initCanAccept: "3578", initDeadEnd: "3579",
				initCancelKey: "3580", initSlot: "3585-3588", initBgworker: "3591",
			},
			childPath: "ClosePostmasterPorts, then InitPostmasterChild: the order of both of 17.1's paths " +
				"(fork: launch_backend.c:248, 251; EXEC_BACKEND's SubPostmasterMain: launch_backend.c:621, 624)",
			paramFile:       "launch_backend.c:725-726",
			cancelCheck:     "ProcessStartupPacket (backend_startup.c:545) -> processCancelRequest (postmaster.c:1834-1886)",
			signalChild:     "postmaster.c:3421-3440",
			serverLoopClose: "postmaster.c:1676-1681",
		}
	}
	return flavor{
		version:        v.Name,
		allocator:      "malloc",
		release:        "free(bn)",
		connStruct:     "Port",
		canAcceptField: "port->canAcceptConnections",
		launch:         "backend_forkexec(port) -> internal_forkexec",
		freeInChild:    true,
		execArgv:       "postgres --forkbackend <backend_var file>",
		backendMain:    "BackendInitialize -> BackendRun -> PostgresMain",
		initKeyFirst:   true,
		initLines: map[string]string{
			initRandomKey: "4139", initCancelKey: "4148", initCanAccept: "4151",
			initDeadEnd: "4152", initSlot: "4157-4160", initBgworker: "4163",
		},
		childPath: "InitPostmasterChild, then ClosePostmasterPorts: the order of 16.4's fork path (postmaster.c:4174, 4177); " +
			"its EXEC_BACKEND path, SubPostmasterMain, closes the ports first (postmaster.c:4850-4853)",
		paramFile:       "postmaster.c:6074-6075",
		cancelCheck:     "ProcessStartupPacket (postmaster.c:2035) -> processCancelRequest (postmaster.c:2402-2464)",
		signalChild:     "postmaster.c:3997-4016",
		serverLoopClose: "postmaster.c:1788",
	}
}

// childSteps returns the child's first two steps in the release's order.
func (f flavor) childSteps() []string {
	if f.closeFirst {
		return []string{stepClosePorts, stepInitChild}
	}
	return []string{stepInitChild, stepClosePorts}
}

// The names of the child's steps, as PostgreSQL names the functions.
const (
	stepInitChild  = "InitPostmasterChild"
	stepClosePorts = "ClosePostmasterPorts"
)

// connArg is the name of BackendStartup's parameter.
func (f flavor) connArg() string {
	if f.closeFirst {
		return "client_sock"
	}
	return "port"
}

// serverVersion is what the backend reports in ParameterStatus.
func (f flavor) serverVersion() string {
	return f.version + " (pgwalk re-enactment)"
}
