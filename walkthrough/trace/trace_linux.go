package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// live is the Linux part of the Driver: the cluster, and the channels to
// the tracer goroutine, which runs the walk as a coroutine. Each Next
// sends resume; the tracer runs the processes to the next stop and sends
// that event back, then waits (with the processes stopped) for the next
// resume.
type live struct {
	mu      sync.Mutex
	started bool
	closed  bool
	cl      *cluster
	info    ClusterInfo
	// forceSoftware makes the tracer use int3 only (tests of the
	// fallback).
	forceSoftware bool
	// hide names symbols to treat as missing (tests of degraded runs).
	hide []string
	// extraConf adds server settings ("name=value", tests only).
	extraConf []string

	resume chan struct{}
	events chan walkthrough.Event
	quit   chan struct{}
	done   chan struct{}
	// finalErr is what Next returns once done is closed.
	finalErr error
	tr       *tracer
	client   *client

	closeOnce sync.Once
	closeErr  error
}

// Supported reports whether live tracing can run on this machine: Linux
// on an architecture the driver knows, with ptrace allowed. The last part
// is only known for sure when Start attaches.
func Supported() error {
	if err := archSupported(); err != nil {
		return err
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
	if d.opts.Scenario != "" && d.opts.Scenario != "normal" {
		return fmt.Errorf("the live driver cannot run the %q scenario: it traces what a real server does (use --driver reenact)", d.opts.Scenario)
	}
	v := d.opts.Version
	bin, version, err := FindPostgres(d.opts.PGBin, v.Major)
	if err != nil {
		return err
	}
	if version != v.Name {
		d.opts.Say(fmt.Sprintf("warning: %s is PostgreSQL %s, not %s: the stops are the same, but the notes' line numbers belong to %s", bin, version, v.Name, v.Name))
	}
	cred, user, err := serverCredential()
	if err != nil {
		return err
	}
	runBin, err := stageInstall(bin, cred)
	if err != nil {
		return err
	}
	if runBin != bin {
		d.opts.Say(fmt.Sprintf("the server runs as %s, who cannot reach %s: using a copy in %s", user, bin, runBin))
	}
	cl, err := startCluster(ctx, runBin, version, cred, d.extraConf)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		// Close ran meanwhile (an interrupt during Start).
		d.mu.Unlock()
		_ = cl.stop()
		return errClosed
	}
	d.cl = cl
	d.info = ClusterInfo{Bin: runBin, Version: version, Dir: cl.dir, SocketDir: cl.dir, Port: clusterPort,
		PostmasterPID: cl.pid, ShmKey: cl.shmKey, ShmID: cl.shmID}
	d.resume = make(chan struct{})
	d.events = make(chan walkthrough.Event)
	d.quit = make(chan struct{})
	d.done = make(chan struct{})
	attached := make(chan error, 1)
	go d.traceMain(attached)
	d.mu.Unlock()
	select {
	case err = <-attached:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = d.Close()
		return err
	}
	return nil
}

// traceMain is the tracer goroutine. It stays locked to its OS thread for
// the whole trace, and unlocks only when every tracee has been detached:
// if it ended locked, Go would end the thread, and PTRACE_O_EXITKILL would
// kill the tracees with it, which is the right thing when detaching failed.
func (d *Driver) traceMain(attached chan<- error) {
	runtime.LockOSThread()
	w, err := d.newWalker()
	attached <- err
	if err == nil {
		err = w.run()
	}
	w.close()
	if derr := w.t.detachAll(); derr != nil {
		err = errors.Join(err, derr)
	} else {
		runtime.UnlockOSThread()
	}
	d.finish(err)
}

// finish records the walk's result and tells everybody it is over.
func (d *Driver) finish(err error) {
	if errors.Is(err, errClosed) || errors.Is(err, errInterrupted) {
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
		return walkthrough.Event{}, d.finalErr
	case <-ctx.Done():
		return walkthrough.Event{}, ctx.Err()
	}
	select {
	case ev := <-d.events:
		return ev, nil
	case <-d.done:
		return walkthrough.Event{}, d.finalErr
	case <-ctx.Done():
		d.interrupt()
		return walkthrough.Event{}, ctx.Err()
	}
}

// interrupt wakes the tracer goroutine wherever it waits.
func (d *Driver) interrupt() {
	d.mu.Lock()
	t := d.tr
	d.mu.Unlock()
	if t != nil {
		t.interrupt()
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
		quit := d.quit
		d.mu.Unlock()
		if quit != nil {
			close(quit)
			d.interrupt()
			<-d.done
			if d.finalErr != nil && !errors.Is(d.finalErr, walkthrough.EOF) && !errors.Is(d.finalErr, errClosed) {
				var ex *TraceeExitedError
				if !errors.As(d.finalErr, &ex) {
					errs = append(errs, d.finalErr)
				}
			}
		}
		d.mu.Lock()
		cl, client := d.cl, d.client
		d.mu.Unlock()
		client.close()
		if err := cl.stop(); err != nil {
			errs = append(errs, err)
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
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
