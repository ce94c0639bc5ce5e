package live

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file follows a fork that failed for real (the server's user ran
// out of processes, say): the stops of the release's fork-failure plan.

// forkFailedLog starts the line every release logs when the fork for a
// connection fails ("could not fork new process for connection: %m").
const forkFailedLog = "could not fork new process for connection: "

// emitForkFailure reports the fork stop (-1), then runs the postmaster to
// its close() of the client socket, by which BackendStartup has given the
// record back, logged the failure and told the client, and reports the
// failure with the log line and the error it names.
func (w *walker) emitForkFailure(c *conn, h ptrace.Hit) error {
	w.failed = true
	v := w.values(c)
	v.ForkReturn = c.forkRet
	v.Facts = append(v.Facts, bpFact(h.BP))
	// The error number stays in the postmaster's thread: the failure stop
	// reads it from the log line.
	if err := w.emit(walkthrough.Fork, w.pm.PID, v, "errno"); err != nil {
		return err
	}
	v = w.values(c)
	var bp *ptrace.Breakpoint
	if a, ok := w.at(w.tab.close); ok {
		var err error
		if bp, err = w.t.ArmSoft(w.pm, w.tab.close.fn, a); err != nil {
			return err
		}
		for {
			h, err := w.wait(stFailure)
			if err != nil {
				return err
			}
			if h.Proc == w.pm && h.BP == bp {
				break
			}
		}
		if err := w.t.Disarm(w.pm, bp); err != nil {
			return err
		}
		v.Facts = append(v.Facts, bpFact(bp))
	}
	lines, off := w.d.cl.LogLinesFrom(w.logOff)
	w.logOff = off
	for _, l := range lines {
		if i := strings.Index(l, forkFailedLog); i >= 0 {
			v.Log = append(v.Log, l)
			v.Errno = errnoOf(strings.TrimSpace(l[i+len(forkFailedLog):]))
		}
	}
	var unobserved []string
	if v.Errno == nil {
		unobserved = append(unobserved, "errno")
	}
	if v.Log == nil {
		unobserved = append(unobserved, "log")
	}
	return w.emit(walkthrough.ForkFailure, w.pm.PID, v, unobserved...)
}

// errnoOf returns the error whose strerror text msg is (Go writes them
// in lower case), nil when no error number has it.
func errnoOf(msg string) *walkthrough.Errno {
	for e := unix.Errno(1); e < 256; e++ {
		if strings.EqualFold(e.Error(), msg) && unix.ErrnoName(e) != "" {
			return &walkthrough.Errno{Code: int(e), Name: unix.ErrnoName(e), Message: msg}
		}
	}
	return nil
}
