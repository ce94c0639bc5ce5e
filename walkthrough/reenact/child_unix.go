//go:build unix

package reenact

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// childFlags are the command-line arguments of ChildCommand: which
// inherited fd is which.
type childFlags struct {
	version    string
	steps      []string
	control    int
	client     int
	listen     []int
	deathRead  int
	deathWrite int
}

func parseChildFlags(args []string) (childFlags, error) {
	var cf childFlags
	var listen, steps string
	fs := flag.NewFlagSet(ChildCommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cf.version, "version", "", "PostgreSQL release being re-enacted")
	fs.StringVar(&steps, "steps", "", "the child's first steps, comma-separated, in the release's order")
	fs.IntVar(&cf.control, "control", -1, "fd of the control channel")
	fs.IntVar(&cf.client, "client", -1, "fd of the client socket")
	fs.StringVar(&listen, "listen", "", "comma-separated fds of the listen sockets")
	fs.IntVar(&cf.deathRead, "death-read", -1, "fd of the death pipe's read end")
	fs.IntVar(&cf.deathWrite, "death-write", -1, "fd of the death pipe's write end")
	if err := fs.Parse(args); err != nil {
		return cf, err
	}
	for _, s := range strings.Split(listen, ",") {
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return cf, fmt.Errorf("-listen: %w", err)
		}
		cf.listen = append(cf.listen, n)
	}
	if cf.control < 3 || cf.client < 3 || cf.deathRead < 3 || cf.deathWrite < 3 {
		return cf, errors.New("-control, -client, -death-read and -death-write are required")
	}
	// The postmaster passes the release's facts the child needs, as
	// EXEC_BACKEND passes its variables: the child looks nothing up.
	for _, s := range strings.Split(steps, ",") {
		if s != stepInitChild && s != stepClosePorts {
			return cf, fmt.Errorf("-steps: unknown step %q (steps: %s, %s)", s, stepInitChild, stepClosePorts)
		}
		cf.steps = append(cf.steps, s)
	}
	return cf, nil
}

// ChildMain runs the backend side of the re-enactment in the process the
// postmaster launched: it waits at each stop until the postmaster lets it
// go on, closes the postmaster's sockets and detaches (in the order of the
// release being re-enacted), reports its fd table, then serves the client
// in the v3 wire protocol. args are the arguments after ChildCommand. It
// returns the process's exit code.
func ChildMain(args []string) int {
	return childMain(args, os.Stderr)
}

// childMain is ChildMain with its diagnostics written to stderr.
func childMain(args []string, stderr io.Writer) int {
	// Until setsid the child is still in pgwalk's process group, where a
	// Ctrl-C typed at a pause would reach it too: ignore SIGINT until then.
	signal.Ignore(syscall.SIGINT)
	cf, err := parseChildFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "pgwalk %s: %v (this command is started by pgwalk's re-enactment, not by hand)\n", ChildCommand, err)
		return 2
	}
	fl := flavor{version: cf.version, steps: cf.steps}

	ctl := os.NewFile(uintptr(cf.control), "pgwalk control channel")
	defer ctl.Close()
	r := newCtlReader(ctl)
	w := &ctlWriter{w: ctl}

	// Restore the backend variables, as SubPostmasterMain does from the
	// backend_var file.
	var m toChild
	if err := r.recv(&m); err != nil || m.Type != msgVars || m.Vars == nil {
		fmt.Fprintf(stderr, "pgwalk %s: no backend variables: %v\n", ChildCommand, err)
		return 1
	}
	vars := *m.Vars
	fl.wire = vars.Wire

	// Stop: fork. Wait here until the postmaster lets the child run.
	if err := waitProceed(r); err != nil {
		return 1
	}

	pid := os.Getpid()
	before, err := listFDs(&vars)
	if err != nil {
		fmt.Fprintf(stderr, "pgwalk %s: %v\n", ChildCommand, err)
		return 1
	}
	facts := []walkthrough.Fact{fact(fdListingKey)}
	facts = append(facts, notPassed(before, vars)...)
	var steps []string
	for _, step := range fl.childSteps() {
		switch step {
		case stepInitChild:
			facts = append(facts, initPostmasterChild()...)
		case stepClosePorts:
			facts = append(facts, closePostmasterPorts(cf)...)
		}
		steps = append(steps, step)
	}
	after, err := listFDs(&vars)
	if err != nil {
		fmt.Fprintf(stderr, "pgwalk %s: %v\n", ChildCommand, err)
		return 1
	}
	sid, _ := unix.Getsid(0)
	if err := w.send(fromChild{
		Type: msgChildStop, PID: pid, PPID: os.Getppid(), SID: sid,
		Steps: steps, FDsBefore: before, FDsAfter: after, Facts: facts,
		MyCancelKey: vars.CancelKey, MyPMChildSlot: vars.ChildSlot,
	}); err != nil {
		return 1
	}

	// Stop: child. Wait again; the postmaster registers the child meanwhile.
	if err := waitProceed(r); err != nil {
		return 1
	}
	return runBackend(cf, vars, fl, pid, r, w)
}

// notPassed describes the fds above 2 that the postmaster did not pass on
// purpose, one fact each.
func notPassed(fds []walkthrough.FD, vars backendVars) []walkthrough.Fact {
	var out []walkthrough.Fact
	for _, fd := range fds {
		if fd.Num <= 2 || vars.Roles[fd.Num] != "" {
			continue
		}
		key := "fact.reenact.fd_go"
		switch {
		case slices.Contains(vars.Inherited, fd.Num):
			key = "fact.reenact.fd_inherited"
		case strings.HasPrefix(fd.Target, "/sys/fs/cgroup/"):
			key = "fact.reenact.fd_cgroup"
		}
		desc := fmt.Sprintf("fd %d", fd.Num)
		if fd.Target != "" {
			desc += " " + fd.Target
		}
		out = append(out, fact(key, "fd", desc))
	}
	return out
}

// waitProceed blocks until the postmaster sends msgProceed. It returns an
// error when the channel ends, which means the postmaster is gone.
func waitProceed(r *ctlReader) error {
	var m toChild
	if err := r.recv(&m); err != nil {
		return err
	}
	if m.Type != msgProceed {
		return fmt.Errorf("unexpected control message %q", m.Type)
	}
	return nil
}

// initPostmasterChild detaches the child from the postmaster the way
// InitPostmasterChild does: a new session (setsid), so that signals meant
// for the postmaster's process group do not reach it, and a request to be
// told when the postmaster dies.
func initPostmasterChild() []walkthrough.Fact {
	var facts []walkthrough.Fact
	if sid, err := unix.Setsid(); err != nil {
		facts = append(facts, fact("fact.reenact.setsid_failed", "result", callResult(err)))
	} else {
		facts = append(facts, fact("fact.reenact.setsid", "sid", sid))
	}
	signal.Reset(syscall.SIGINT)
	facts = append(facts, askParentDeathSignal())
	return facts
}

// closePostmasterPorts closes what ClosePostmasterPorts closes: the death
// pipe's write end first (so that the pipe reports the postmaster's death
// only when the postmaster itself is gone), then the listen sockets.
func closePostmasterPorts(cf childFlags) []walkthrough.Fact {
	var failed []string
	if err := unix.Close(cf.deathWrite); err != nil {
		failed = append(failed, fmt.Sprintf("close(%d) = %s", cf.deathWrite, callResult(err)))
	}
	for _, fd := range cf.listen {
		if err := unix.Close(fd); err != nil {
			failed = append(failed, fmt.Sprintf("close(%d) = %s", fd, callResult(err)))
		}
	}
	if len(failed) > 0 {
		return []walkthrough.Fact{fact("fact.reenact.close_failed", "calls", strings.Join(failed, "; "))}
	}
	return nil
}

// runBackend is the backend proper: BackendInitialize and what follows.
func runBackend(cf childFlags, vars backendVars, fl flavor, pid int, r *ctlReader, w *ctlWriter) int {
	f := os.NewFile(uintptr(cf.client), "client socket")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		_ = w.send(fromChild{Type: msgError, Text: "use client socket: " + err.Error()})
		return 1
	}
	defer nc.Close()

	// Watch the death pipe as PostmasterIsAlive does: once every write
	// end is closed, a read returns EOF, and the backend ends.
	death := os.NewFile(uintptr(cf.deathRead), "postmaster death pipe")
	pmDied := make(chan struct{})
	go func() {
		var b [1]byte
		_, _ = death.Read(b[:])
		close(pmDied)
		nc.Close()
	}()

	// A cancel request arrives as SIGINT, sent by the child of the
	// connection that carried it. Like StatementCancelHandler, it cancels
	// the running statement, if there is one; an idle backend ignores it
	// (ProcessInterrupts, when DoingCommandRead).
	var intr interrupter
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT)
	done := make(chan struct{})
	sigDone := make(chan struct{})
	go func() {
		defer close(sigDone)
		for {
			select {
			case s := <-sigs:
				name := unix.SignalName(s.(syscall.Signal))
				f := fact("fact.reenact.signal_idle", "signal", name)
				if q, ok := intr.interrupt(); ok {
					f = fact("fact.reenact.signal_cancelled", "signal", name, "query", strconv.Quote(q))
				}
				_ = w.send(fromChild{Type: msgSignal, PID: pid, Signal: name, Facts: []walkthrough.Fact{f}})
			case <-done:
				return
			}
		}
	}()
	defer func() {
		signal.Stop(sigs)
		close(done)
		<-sigDone
	}()

	// The shared key table, where the release checks cancel requests
	// against the keys the backends published: mapped as a backend
	// attaches to shared memory, after its first steps.
	var keys *keyTable
	if vars.KeysPath != "" {
		keys, err = openKeyTable(vars.KeysPath, vars.KeyRows)
		if err != nil {
			_ = w.send(fromChild{Type: msgError, Text: err.Error()})
			return 1
		}
		defer keys.close()
	}
	hooks := backendHooks{
		report: func(m fromChild) error { return w.send(m) },
		cancel: func(target int, key []byte) error {
			if keys != nil {
				// SendCancelRequest, in this child, against the keys the
				// backends published in shared memory.
				found, matched := keys.lookup(target, key)
				res := cancelOutcome(target, found, matched)
				var kills []string
				if matched {
					kills = signalGroup(target, syscall.SIGINT)
				}
				return w.send(fromChild{Type: msgCancel, PID: pid, TargetPID: target, Matched: matched,
					Kills: kills, Rows: keys.rows, Published: keys.published(), Text: res.log})
			}
			// processCancelRequest, in this child, against the copy of
			// BackendList it was given at launch. The release's bounds
			// made the key 4 bytes.
			if len(key) != 4 {
				return fmt.Errorf("a %d-byte key for a list of 4-byte keys", len(key))
			}
			res := processCancelRequest(vars.BackendList, target, int32(binary.BigEndian.Uint32(key)))
			var kills []string
			if res.matched {
				kills = signalChild(target, syscall.SIGINT)
			}
			return w.send(fromChild{Type: msgCancel, PID: pid, TargetPID: target, Matched: res.matched,
				Kills: kills, ListLen: len(vars.BackendList), Text: res.log})
		},
		sleep: func(query string, d time.Duration) (bool, error) {
			cancelled := intr.start(query)
			_ = w.send(fromChild{Type: msgRunning, PID: pid, Text: query})
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				// A SIGINT that came after the sleep ended but before
				// the statement did still cancels it, as the next
				// CHECK_FOR_INTERRUPTS would.
				return intr.end(), nil
			case <-cancelled:
				intr.end()
				return true, nil
			case <-pmDied:
				intr.end()
				return false, errors.New("the postmaster died (its death pipe reported end of file) during pg_sleep: the backend exits")
			}
		},
	}
	if keys != nil {
		// What ProcSignalInit does for a backend of PostgreSQL 18: put
		// its pid and key where a cancel connection's child looks; the
		// row is cleared when the backend ends.
		hooks.publish = func(key []byte) error { return keys.publish(vars.ChildSlot, pid, key) }
		defer keys.clear(vars.ChildSlot, pid)
	}
	return serveBackend(nc, vars, fl, pid, hooks)
}

// interrupter is the backend's QueryCancelPending: a SIGINT cancels the
// statement that is running, if any.
type interrupter struct {
	mu      sync.Mutex
	query   string
	running chan struct{} // closed by interrupt; nil when idle
}

// start marks query as running and returns a channel that a SIGINT closes.
func (i *interrupter) start(query string) <-chan struct{} {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.query = query
	i.running = make(chan struct{})
	return i.running
}

// end marks the backend idle again and reports whether a SIGINT cancelled
// the statement that was running.
func (i *interrupter) end() (interrupted bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	interrupted = i.running == nil
	i.query, i.running = "", nil
	return interrupted
}

// interrupt cancels the running statement and returns it; ok is false when
// the backend was idle or the statement is already cancelled.
func (i *interrupter) interrupt() (query string, ok bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running == nil {
		return "", false
	}
	close(i.running)
	q := i.query
	i.query, i.running = "", nil
	return q, true
}

// signalGroup sends sig to the process group of pid, which the backend
// leads since its setsid, as SendCancelRequest does where setsid exists.
// It returns the kill call, as C says it ("kill(-123, SIGINT) = 0"). A
// pid below 2 is never signalled (kill(0) or kill(-1) would reach far more
// than a backend, and no backend has one): there is no call then.
func signalGroup(pid int, sig syscall.Signal) []string {
	if pid < 2 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	return []string{fmt.Sprintf("kill(%d, %s) = %s", -pid, unix.SignalName(sig), callResult(err))}
}

// signalChild sends sig as PostgreSQL's signal_child does: to the process,
// then to its process group (which the backend leads since its setsid), in
// case it has not reached setsid yet or has children of its own. It
// returns each kill call, as C says it ("kill(123, SIGINT) = 0"). A pid
// below 2 is never signalled: no backend has one, and kill(0) or kill(-1)
// would reach far more than a backend.
func signalChild(pid int, sig syscall.Signal) []string {
	if pid < 2 {
		return nil
	}
	var out []string
	for _, target := range []int{pid, -pid} {
		err := syscall.Kill(target, sig)
		out = append(out, fmt.Sprintf("kill(%d, %s) = %s", target, unix.SignalName(sig), callResult(err)))
	}
	return out
}
