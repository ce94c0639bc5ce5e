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
//     fork does not copy, so no other child of the postmaster inherits them;
//     where debug registers are unavailable the driver falls back to int3
//     and removes the inherited int3 bytes from every child it does not
//     follow. A write watchpoint on the head of BackendList catches the
//     registration of the new backend.
//   - Symbols come from the binary's .symtab (a stripped binary keeps only
//     its exported ones, in .dynsym: the driver says which stops that costs);
//     addresses are relocated with the load address found in
//     /proc/PID/maps, and the bytes in memory are compared with the file
//     before any breakpoint is set.
//
// The driver never holds PostgreSQL's source: it only names functions and
// variables of the binary.
package trace
