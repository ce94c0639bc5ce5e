// Package trace is the live driver: it starts a throwaway cluster of a real
// PostgreSQL 16.4 or 17.1, attaches to its postmaster with ptrace, and stops
// wherever BackendStartup does something the notes explain, reporting the
// values it reads from the processes' memory, registers and file tables.
//
// How it works, in short (Linux, x86-64):
//
//   - The cluster comes from a template initialised once per version in the
//     user cache directory and copied into a private temporary directory. The
//     postmaster listens on a Unix socket only, runs as an unprivileged user
//     when pgwalk runs as root, and logs at DEBUG2 so that its "forked new
//     backend" line shows.
//   - The postmaster is attached with PTRACE_SEIZE and followed across its
//     forks. Every ptrace and wait call runs on one goroutine locked to its
//     OS thread, because the kernel ties a tracee to the tracing thread.
//   - Breakpoints in the postmaster use the CPU's debug registers, which a
//     fork does not copy, so no other child of the postmaster inherits them,
//     and a write watchpoint on the head of BackendList catches the
//     registration of the new backend. Some virtual machines take every
//     debug-register write and never trap, so the driver trusts them only
//     after seeing them trap during its warm-up connection (--breakpoints
//     auto); otherwise it uses int3, removes the inherited int3 bytes from
//     every child it does not follow, and finds the registration at the
//     postmaster's next close(), the client socket's, just after the push.
//   - Every wait while the traced processes run has a bound; past it the
//     driver says which stage stalled and why, and cleans up. Another
//     client connecting at the same time is told from pgwalk's own by the
//     peer address accept() recorded, and goes through untraced.
//   - Symbols come from the binary's .symtab (a stripped binary keeps only
//     its exported ones, in .dynsym: the driver says which stops that costs);
//     addresses are relocated with the load address found in
//     /proc/PID/maps, and the bytes in memory are compared with the file
//     before any breakpoint is set.
//
// The driver never holds PostgreSQL's source: it only names functions and
// variables of the binary.
package trace
