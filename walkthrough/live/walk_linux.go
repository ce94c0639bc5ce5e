package live

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
	"github.com/pgwalk/pgwalk/walkthrough/live/elfsym"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file is the walk: one connection after another through the stops
// of the release's plan, on the walk's goroutine. parent_linux.go,
// child_linux.go, register_linux.go and epilogue_linux.go hold its parts.

// walker walks one connection after another through the stops.
type walker struct {
	d    *Driver
	opts walkthrough.DriverOptions
	tab  *table
	t    *ptrace.Tracer
	pm   *ptrace.Proc
	exe  *elfsym.Module
	libc *elfsym.Module
	// mods are the mapped files the tracer compares memory with before it
	// sets a breakpoint.
	mods   elfsym.Set
	hidden map[string]bool
	conn   int
	logOff int64
	// deadline bounds the wait for the next stop; zero while the walk
	// waits for an outside client, which may take any time.
	deadline time.Time
	// client is pgwalk's own client of the connection being walked.
	client *client
	// foreign counts the connections let through untraced because they
	// were not pgwalk's own client's; peerUnknown is set once the driver
	// said it cannot tell.
	foreign     int
	peerUnknown bool
	// failed is set once the connection's fork failed: its stops follow
	// the fork-failure plan from then on.
	failed bool
}

// newWalker attaches to the postmaster, reads the symbols, and makes the
// warm-up connection.
func (d *Driver) newWalker(tab *table) (*walker, error) {
	w := &walker{d: d, opts: d.opts, tab: tab, hidden: map[string]bool{}}
	for _, h := range d.hide {
		w.hidden[h] = true
	}
	w.t = ptrace.New(ptrace.Options{
		FileBytes: func(addr uint64, n int) ([]byte, error) { return w.mods.FileBytes(addr, n) },
		DeadDR7:   d.deadDR7 || deadRegistersFromEnv(),
	})
	d.mu.Lock()
	d.tr = w.t
	d.mu.Unlock()
	pm, err := w.t.Attach(d.cl.PID, "postmaster")
	if err != nil {
		var pe *ptrace.PermissionError
		if errors.As(err, &pe) {
			return w, &UnsupportedError{Reason: "ptrace is not permitted here (PTRACE_SEIZE refused; a container may need CAP_SYS_PTRACE, or kernel.yama.ptrace_scope is 3)", Err: pe.Err}
		}
		return w, err
	}
	w.pm = pm
	exePath, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pm.PID))
	if err != nil {
		return w, err
	}
	maps, err := elfsym.ReadMaps(pm.PID)
	if err != nil {
		return w, err
	}
	// The file is opened through /proc/PID/exe: exactly what runs, even
	// if the path was replaced since.
	if w.exe, err = elfsym.Load(fmt.Sprintf("/proc/%d/exe", pm.PID), exePath, maps, false); err != nil {
		return w, err
	}
	w.mods = append(w.mods, w.exe)
	if p, ok := elfsym.LibcPath(maps); ok {
		if m, err := elfsym.Load(p, p, maps, true); err == nil {
			w.libc = m
			w.mods = append(w.mods, m)
		}
	}
	if !w.has(tab.gate) && !w.has(tab.accept) {
		return w, fmt.Errorf("%s has neither %s nor %s: the live driver cannot see a connection reach %s", exePath, tab.gate.fn, tab.accept.fn, tab.startup)
	}
	if err := w.warmUp(); err != nil {
		return w, err
	}
	w.logOff = d.cl.LogSize()
	w.sayUnavailable()
	return w, nil
}

// lookup returns the run-time address of a symbol of postgres (or, with
// libc set, of the C library).
func (w *walker) lookup(name string, libc bool) (uint64, bool) {
	if name == "" || w.hidden[name] {
		return 0, false
	}
	m := w.exe
	if libc {
		m = w.libc
	}
	a, _, ok := m.Lookup(name)
	return a, ok
}

// sym returns the address of a variable or function of postgres.
func (w *walker) sym(name string) (uint64, bool) { return w.lookup(name, false) }

// at returns the address of p's function.
func (w *walker) at(p point) (uint64, bool) { return w.lookup(p.fn, p.libc) }

func (w *walker) has(p point) bool { _, ok := w.at(p); return ok }

func (w *walker) hasSym(name string) bool { _, ok := w.sym(name); return ok }

// sayUnavailable tells the user which observations this binary cannot
// give, one message per missing symbol, naming the stop that lacks it.
func (w *walker) sayUnavailable() {
	tab := w.tab
	if w.exe.NoSymtab() {
		w.tell("say.live.no_symtab", "bin", w.exe.Path())
	}
	need := func(name string, phase walkthrough.PhaseID) {
		if name != "" && !w.hasSym(name) {
			w.tell("say.live.no_symbol", "symbol", name, "phase", phase)
		}
	}
	need(tab.accept.fn, walkthrough.StructInit)
	if !tab.allocate.libc {
		need(tab.allocate.fn, walkthrough.StructCreation)
	}
	need(tab.slot.fn, walkthrough.StructInit)
	need(tab.fork.fn, walkthrough.Fork)
	for _, s := range tab.steps {
		need(s, walkthrough.Child)
	}
	need(tab.slotVar, walkthrough.Child)
	need(tab.list, walkthrough.ParentRegistration)
	if tab.keyInPostmaster {
		need(tab.keyVar, walkthrough.StructInit)
	} else {
		need(tab.keyFill.fn, walkthrough.Epilogue)
		need(tab.keyVar, walkthrough.Epilogue)
	}
	if w.hasSym(tab.list) && !w.t.Hardware() && !w.has(tab.close) {
		w.tell("say.live.step_registration", "function", tab.close.fn, "phase", walkthrough.ParentRegistration)
	}
	if !w.opts.WaitForClient && !w.has(tab.gate) {
		w.tell("say.live.first_connection", "function", tab.gate.fn, "startup", tab.startup)
	}
}

func (w *walker) tell(key string, pairs ...any) { tell(w.opts, key, pairs...) }

// close releases the files the walker opened.
func (w *walker) close() {
	w.exe.Close()
	w.libc.Close()
}

// awaitResume waits for the next Next, with no bound: the processes are
// stopped on purpose while the reader looks. The bound of the wait for
// the next stop starts when it comes.
func (w *walker) awaitResume() error {
	select {
	case <-w.d.resume:
		w.deadline = time.Now().Add(w.d.bounds.stage)
		return nil
	case <-w.d.quit:
		return errClosed
	}
}

// emit reports the planned stop of phase, observed in process pid (0:
// none) with the values v, and waits, with every traced process stopped,
// for the Next after it. unobserved lists planned values the walk could
// not observe; a planned value missing for want of a symbol is added.
func (w *walker) emit(phase walkthrough.PhaseID, pid int, v walkthrough.Values, unobserved ...string) error {
	plan := w.tab.plan
	if w.failed {
		plan = w.tab.failure
	}
	s := stopAt(plan, phase)
	ev := walkthrough.Event{Connection: w.conn, Phase: phase, Process: s.Process, PID: pid, Point: s.At, Values: v}
	for _, k := range ev.Lacks(s.Values) {
		if !slices.Contains(unobserved, k) && w.lacksSourceOf(k) {
			unobserved = append(unobserved, k)
		}
	}
	ev.Unobserved = unobserved
	select {
	case w.d.events <- ev:
	case <-w.d.quit:
		return errClosed
	}
	return w.awaitResume()
}

// lacksSourceOf reports whether the binary lacks a symbol the value key
// is read at or from (a stripped binary keeps only its exported
// symbols): a planned value the walk did not observe for that reason is
// reported as unobserved. Any other missing value is the driver's fault,
// which the session reports.
func (w *walker) lacksSourceOf(key string) bool {
	tab := w.tab
	var alloc string
	if !tab.allocate.libc {
		alloc = tab.allocate.fn
	}
	sources := map[string][]string{
		"can_accept":   {tab.accept.fn},
		"dead_end":     {tab.accept.fn, alloc, tab.deadEnd.fn},
		"child_slot":   {tab.slot.fn, alloc, tab.slotVar, stepClosePorts},
		"cancel_key":   {tab.keyVar, tab.keyFill.fn},
		"backend":      {tab.list, alloc, tab.close.fn},
		"backend_list": {tab.list},
		"fork_return":  {tab.fork.fn},
		"fds_before":   {stepClosePorts},
		"fds_after":    {stepClosePorts},
		"closed_fds":   {stepClosePorts},
	}
	for _, name := range sources[key] {
		if name == "" {
			continue
		}
		if name == tab.close.fn && !w.has(tab.close) || name != tab.close.fn && !w.hasSym(name) {
			return true
		}
	}
	return false
}

// wait runs the processes to the next breakpoint, within w.deadline; st
// names what they are expected to reach, for the error past it.
func (w *walker) wait(st stage) (ptrace.Hit, error) {
	h, err := w.t.Wait(ptrace.Limits{Deadline: w.deadline})
	switch {
	case errors.Is(err, ptrace.ErrInterrupted):
		return h, errClosed
	case errors.Is(err, ptrace.ErrDeadline):
		return h, w.stalled(st)
	}
	return h, err
}

// run walks connections until the run is over.
func (w *walker) run() error {
	if err := w.awaitResume(); err != nil {
		return err
	}
	for {
		w.conn++
		if err := w.walkConnection(); err != nil {
			return err
		}
		if !w.opts.WaitForClient {
			return walkthrough.EOF
		}
	}
}

// walkConnection follows one connection from accept to the closing check.
func (w *walker) walkConnection() error {
	c := &conn{}
	w.failed = false
	if err := w.parent(c); err != nil {
		return err
	}
	if c.child != nil {
		if err := w.childStop(c); err != nil {
			return err
		}
		if err := w.registration(c); err != nil {
			return err
		}
	}
	return w.epilogue(c)
}

// values starts the Values of a stop with what every stop carries.
func (w *walker) values(c *conn) walkthrough.Values {
	return walkthrough.Values{PostmasterPID: w.pm.PID, ChildPID: c.childPID}
}

// readVar reads a 32-bit variable of p; nil when the symbol is missing or
// the read fails.
func (w *walker) readVar(p *ptrace.Proc, name string) *int32 {
	a, ok := w.sym(name)
	if !ok {
		return nil
	}
	v, err := w.t.ReadI32(p, a)
	if err != nil {
		return nil
	}
	return &v
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	return walkthrough.Int(int(*v))
}

// connect starts pgwalk's client, or tells the user how to connect.
func (w *walker) connect() {
	if w.opts.WaitForClient {
		if w.conn == 1 {
			w.tell("say.live.wait_client", "dir", w.d.cl.Dir, "port", cluster.Port)
		} else {
			w.tell("say.live.wait_next_client")
		}
		// A person may take any time to connect: the bound starts when
		// the client arrives (see parent).
		w.deadline = time.Time{}
		return
	}
	if w.d.beforeClient != nil {
		w.d.beforeClient()
	}
	c := startClient(w.d.cl.Dir, cluster.Port)
	w.client = c
	w.d.mu.Lock()
	w.d.client = c
	w.d.mu.Unlock()
	w.deadline = time.Now().Add(w.d.bounds.stage)
}

// bpFact names the breakpoint a stop was caught at.
func bpFact(b *ptrace.Breakpoint) walkthrough.Fact {
	if b == nil {
		return walkthrough.F("fact.live.no_breakpoint")
	}
	addr := fmt.Sprintf("%#x", b.Addr)
	switch {
	case b.Register() < 0:
		return walkthrough.F("fact.live.breakpoint_int3", "address", addr, "at", b.Name)
	case b.Kind == ptrace.Write8:
		return walkthrough.F("fact.live.watchpoint_hardware", "register", fmt.Sprintf("DR%d", b.Register()), "address", addr, "at", b.Name)
	}
	return walkthrough.F("fact.live.breakpoint_hardware", "register", fmt.Sprintf("DR%d", b.Register()), "address", addr, "at", b.Name)
}
