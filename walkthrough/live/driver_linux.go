package live

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// state is the Linux part of the Driver: the cluster, and the channels to
// the walk's goroutine, which runs the walk as a coroutine. Each Next
// sends resume; the walk runs the processes to the next stop and sends
// that event back, then waits (with the processes stopped) for the next
// resume. The ptrace calls themselves run on the tracer's own locked
// thread (package ptrace).
type state struct {
	mu      sync.Mutex
	started bool
	closed  bool
	cl      *cluster.Cluster
	info    ClusterInfo
	// deadDR7 makes the debug registers take writes and never trap
	// (tests of the machines where they do so).
	deadDR7 bool
	// bounds are the time limits of the run's stages.
	bounds bounds
	// hide names symbols to treat as missing (tests of degraded runs).
	hide []string
	// extraConf adds server settings ("name=value", tests only).
	extraConf []string
	// beforeClient runs on the walk's goroutine just before pgwalk's own
	// client connects (tests of other clients arriving first).
	beforeClient func()

	resume chan struct{}
	events chan walkthrough.Event
	quit   chan struct{}
	done   chan struct{}
	// finalErr is what Next returns once done is closed; finalSaid is set
	// once Start or Next returned it, so that Close does not say it again.
	finalErr  error
	finalSaid atomic.Bool
	tr        *ptrace.Tracer
	client    *client

	closeOnce sync.Once
	closeErr  error
}

// bounds are the time limits of a live run. Each is generous enough for a
// loaded two-core machine running the race detector: a stage that takes
// milliseconds normally gets tens of seconds before the driver gives up.
type bounds struct {
	// stage bounds every wait while the traced processes run: for the
	// next stop, for the warm-up connection, for the client to finish.
	// It does not run while a stop is shown: the processes are stopped
	// on purpose then.
	stage time.Duration
	// probe bounds the wait for the debug registers' first trap. It can
	// be short: past it the driver uses int3, which works everywhere.
	probe time.Duration
}

var defaultBounds = bounds{stage: 30 * time.Second, probe: 5 * time.Second}

// CleanStale removes what killed live runs left (their directories, the
// servers still running there, their shared memory), under the rules of
// tmpdir.Sweeper, and returns the directories removed.
func CleanStale() ([]string, error) { return cluster.Sweep() }

// Supported reports whether live tracing can run on this machine: Linux
// on an architecture the driver knows, with ptrace allowed. The last part
// is only known for sure when Start attaches.
func Supported() error {
	if err := ptrace.ArchSupported(); err != nil {
		return &UnsupportedError{Reason: err.Error()}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(b)) == "3" {
		return &UnsupportedError{Reason: "ptrace is disabled on this machine (kernel.yama.ptrace_scope is 3)"}
	}
	return nil
}

// Start finds the postgres binary, starts a throwaway cluster and attaches
// to its postmaster. It returns before the first stop.
func (d *Driver) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	again := d.started
	d.started = true
	d.mu.Unlock()
	if again {
		return errors.New("live driver: Start called twice")
	}
	if err := Supported(); err != nil {
		return err
	}
	if !validBreakpoints(d.opts.Breakpoints) {
		return fmt.Errorf("unknown breakpoint mechanism %q (use %s)", d.opts.Breakpoints, strings.Join(walkthrough.BreakpointModes, ", "))
	}
	if d.bounds.stage == 0 {
		d.bounds.stage = defaultBounds.stage
	}
	if d.bounds.probe == 0 {
		d.bounds.probe = defaultBounds.probe
	}
	if d.opts.Scenario != "" && d.opts.Scenario != walkthrough.ScenarioNormal {
		return fmt.Errorf("the live driver cannot run the %q scenario: it traces what a real server does (use --driver reenact)", d.opts.Scenario)
	}
	v := d.opts.Version
	rel := v.Release()
	if rel == nil {
		return fmt.Errorf("live: PostgreSQL %q has no release manifest", v.Name)
	}
	tab, err := newTable(rel, runtime.GOARCH)
	if err != nil {
		return err
	}
	bin, version, err := FindPostgres(d.opts.PGBin, v)
	if err != nil {
		return err
	}
	if version != v.Name {
		tell(d.opts, "say.live.other_release", "bin", bin, "found", version, "release", v.Name)
	}
	cred, user, err := cluster.ServerCredential()
	if err != nil {
		return err
	}
	runBin, err := cluster.StageInstall(bin, cred)
	if err != nil {
		return err
	}
	if runBin != bin {
		tell(d.opts, "say.live.staged", "user", user, "bin", bin, "copy", runBin)
	}
	cl, err := cluster.Start(ctx, runBin, version, cred, d.extraConf)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		// Close ran meanwhile (an interrupt during Start).
		d.mu.Unlock()
		_ = cl.Stop()
		return errClosed
	}
	d.cl = cl
	d.info = ClusterInfo{Bin: runBin, Version: version, Dir: cl.Dir, SocketDir: cl.Dir, Port: cluster.Port,
		PostmasterPID: cl.PID, ShmKey: cl.ShmKey, ShmID: cl.ShmID}
	d.resume = make(chan struct{})
	d.events = make(chan walkthrough.Event)
	d.quit = make(chan struct{})
	d.done = make(chan struct{})
	attached := make(chan error, 1)
	go d.walkMain(tab, attached)
	d.mu.Unlock()
	// The walk bounds the probe and the warm-up itself; this bound
	// catches a tracer stuck in a system call.
	limit := 2*d.bounds.stage + d.bounds.probe
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err = <-attached:
		if err != nil {
			d.finalSaid.Store(true)
		}
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = &cluster.StageTimeoutError{Stage: "attaching to the postmaster", Expected: "the tracer to attach, set its breakpoints and serve the warm-up connection",
			After: limit, Cause: "the machine is overloaded, or ptrace is stuck on this machine", Try: "again, or --driver reenact, which needs no PostgreSQL server"}
	}
	if err != nil {
		_ = d.Close()
		return err
	}
	return nil
}

// walkMain is the walk's goroutine. It ends the tracer when the walk is
// over: every tracee detached, or, when detaching failed, the tracer's
// thread ended locked, so that PTRACE_O_EXITKILL kills the tracees.
func (d *Driver) walkMain(tab *table, attached chan<- error) {
	w, err := d.newWalker(tab)
	attached <- err
	if err == nil {
		err = w.run()
	}
	w.close()
	if derr := w.t.Close(); derr != nil {
		err = errors.Join(err, derr)
	}
	d.finish(err)
}

// finish records the walk's result and tells everybody it is over.
func (d *Driver) finish(err error) {
	if errors.Is(err, errClosed) || errors.Is(err, ptrace.ErrInterrupted) {
		err = errClosed
	}
	d.finalErr = err
	close(d.done)
}

// Next runs the traced processes to the next stop and returns it, or
// walkthrough.EOF after the last. Cancelling ctx while the processes run
// interrupts the trace for good; Close must still be called.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	d.mu.Lock()
	done := d.done
	d.mu.Unlock()
	if done == nil {
		return walkthrough.Event{}, errors.New("live driver: Next before Start")
	}
	select {
	case d.resume <- struct{}{}:
	case ev := <-d.events:
		// The stop an interrupted Next gave up waiting for.
		return ev, nil
	case <-d.done:
		return walkthrough.Event{}, d.sayFinal()
	case <-ctx.Done():
		return walkthrough.Event{}, ctx.Err()
	}
	select {
	case ev := <-d.events:
		return ev, nil
	case <-d.done:
		return walkthrough.Event{}, d.sayFinal()
	case <-ctx.Done():
		d.interrupt()
		return walkthrough.Event{}, ctx.Err()
	}
}

// sayFinal returns the walk's result to a caller, who reports it.
func (d *Driver) sayFinal() error {
	if d.finalErr != nil {
		d.finalSaid.Store(true)
	}
	return d.finalErr
}

// interrupt wakes the walk wherever it waits.
func (d *Driver) interrupt() {
	d.mu.Lock()
	t := d.tr
	d.mu.Unlock()
	if t != nil {
		t.Interrupt()
	}
}

// Close stops the trace wherever it is (breakpoints removed, debug
// registers cleared, every process detached), stops the cluster, and
// removes its directory and shared memory. It is safe to call twice.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		d.mu.Lock()
		d.closed = true
		quit, cl := d.quit, d.cl
		d.mu.Unlock()
		stuck := false
		if quit != nil {
			close(quit)
			d.interrupt()
			stuck = !d.awaitDone(d.bounds.stage)
			// An error Start or Next returned was reported already.
			if !stuck && d.finalErr != nil && !d.finalSaid.Load() && !errors.Is(d.finalErr, walkthrough.EOF) && !errors.Is(d.finalErr, errClosed) {
				var ex *ptrace.TraceeExitedError
				if !errors.As(d.finalErr, &ex) {
					errs = append(errs, d.finalErr)
				}
			}
		}
		d.mu.Lock()
		client := d.client
		d.mu.Unlock()
		client.close()
		// Stopping the cluster kills the postmaster, which ends any wait
		// of a stuck tracer (a tracee that dies is always reported).
		if err := cl.Stop(); err != nil {
			errs = append(errs, err)
		}
		if stuck && !d.awaitDone(d.bounds.stage) {
			errs = append(errs, fmt.Errorf("the tracer did not stop within %s of the cluster's end", d.bounds.stage))
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// awaitDone waits up to limit for the walk's goroutine to end.
func (d *Driver) awaitDone(limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-d.done:
		return true
	case <-t.C:
		return false
	}
}

// Client returns pgwalk's own connection once the closing check was
// reported (nil before, and with WaitForClient). It stays open until Close.
func (d *Driver) Client() *pgconn.PgConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		return nil
	}
	select {
	case <-d.client.done:
		return d.client.conn
	default:
		return nil
	}
}

// Cluster describes the run's cluster (zero before Start).
func (d *Driver) Cluster() ClusterInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info
}
