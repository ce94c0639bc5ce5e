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
