// Package ptrace is a small tracer for Linux processes that knows nothing
// of the programs it traces: it attaches to a process (PTRACE_SEIZE),
// follows its forks, sets execution breakpoints (int3 or a debug register)
// and write watchpoints (a debug register), waits for the next one to trap
// with a deadline, and reads registers and memory.
//
// Linux ties a tracee to the thread that attached it: only that thread may
// issue ptrace requests for it, and only it can wait for it (ptrace(2),
// "Attaching and detaching"). A Tracer therefore runs every ptrace and
// wait call on one goroutine locked to its OS thread, and other goroutines
// hand it work through a small function queue, as delve's native backend
// does (handlePtraceFuncs). Only Interrupt needs no queue: it wakes a wait
// with a signal.
//
// Wait waits with wait4(-1, __WALL), which reports every child of the
// process, traced or not: a program must not count on the exit status of
// a child of its own that ends while a Tracer waits (run it detached).
//
// A Tracer made with PTRACE_O_EXITKILL takes its tracees down if the
// tracing thread dies, so that a crashed program never leaves a process
// full of int3 bytes behind; Close detaches everything first.
package ptrace
