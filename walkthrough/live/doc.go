// Package live is the live driver: it starts a throwaway cluster of a real
// PostgreSQL server, attaches to its postmaster with ptrace, and stops
// wherever the release's stop plan says, reporting the values it reads
// from the processes' memory, registers and file tables.
//
// The driver knows no release: everything version-specific comes from the
// release's manifest (walkthrough.Release). From the manifest's facts it
// builds a table of probe points (probes.go): the functions to break at
// and where, the argument values that tell the connection's call from
// others, the layout of the postmaster's record of a child and of the
// record the accept function fills, the variables to read. The walk
// (walk_linux.go and the files beside it) emits exactly the plan's stops,
// one per planned stop, in order, and a release whose facts it cannot
// follow gets a *walkthrough.UnsupportedError that names the fact.
//
// It is built from parts a next driver can reuse, none of which knows
// PostgreSQL's release facts: package ptrace (a tracer: attach, follow
// forks, breakpoints in int3 or debug registers, waits with a deadline,
// all on one locked thread), package elfsym (symbols and the load bias of
// a position-independent executable) and package cluster (finding,
// staging, starting and cleaning up a throwaway cluster).
//
// How it works, in short (Linux, x86-64):
//
//   - The cluster comes from a template initialised once per release in
//     the user cache directory and copied into a private temporary
//     directory. The postmaster listens on a Unix socket only, runs as an
//     unprivileged user when pgwalk runs as root, and logs at DEBUG2 so
//     that its "forked new backend" line shows.
//   - The postmaster is attached with PTRACE_SEIZE and followed across
//     its forks. Breakpoints in the postmaster use the CPU's debug
//     registers, which a fork does not copy, and a write watchpoint
//     catches the registration of the new backend. Some virtual machines
//     take every debug-register write and never trap, so the driver
//     trusts them only after seeing them trap during its warm-up
//     connection (--breakpoints auto); otherwise it uses int3, removes the
//     inherited int3 bytes from every child it does not follow, and finds
//     the registration at the postmaster's next close(), the client
//     socket's, just after it.
//   - Every wait while the traced processes run has a bound; past it the
//     driver says which stage stalled and why, and cleans up. Another
//     client connecting at the same time is told from pgwalk's own by the
//     peer address accept() recorded, and goes through untraced.
//   - Where the release makes the cancel key in the backend, the driver
//     catches it where the backend fills it, and compares it with the
//     BackendKeyData its own client (protocol 3.2) received.
//
// Observations are data: facts and checks are catalog messages with
// stable keys ("fact.live.*", "check.live.*", "say.live.*"; their texts
// are in the message catalog, internal/catalog) whose arguments carry PostgreSQL's identifiers and
// the values as they are. The driver never holds PostgreSQL's source: it
// only names functions and variables of the binary.
package live
