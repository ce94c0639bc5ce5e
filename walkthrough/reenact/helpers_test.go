package reenact

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// safety bounds every wait of a test so that a bug fails the test instead of
// hanging it. No test asserts on how long anything took.
const safety = 60 * time.Second

func version(t testing.TB, name string) walkthrough.Version {
	t.Helper()
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// startDriver starts a driver and closes it when the test ends.
func startDriver(t testing.TB, opts walkthrough.DriverOptions, setup func(*Driver)) *Driver {
	t.Helper()
	d := New(opts)
	if setup != nil {
		setup(d)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return d
}

// runAll calls Next until EOF and returns every stop.
func runAll(t testing.TB, d *Driver, each func(walkthrough.Event)) []walkthrough.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	var evs []walkthrough.Event
	for {
		ev, err := d.Next(ctx)
		if errors.Is(err, walkthrough.EOF) {
			return evs
		}
		if err != nil {
			t.Fatalf("Next after %d stops: %v", len(evs), err)
		}
		if each != nil {
			each(ev)
		}
		evs = append(evs, ev)
	}
}

// walker calls Next in its own goroutine until the driver fails or the
// walker is stopped, so that a test can play the client meanwhile.
type walker struct {
	events chan walkthrough.Event
	done   chan error
	cancel context.CancelFunc
}

func walk(d *Driver) *walker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &walker{events: make(chan walkthrough.Event, 64), done: make(chan error, 1), cancel: cancel}
	go func() {
		for {
			ev, err := d.Next(ctx)
			if err != nil {
				w.done <- err
				return
			}
			w.events <- ev
		}
	}()
	return w
}

// stop ends the walker and waits for it.
func (w *walker) stop(t testing.TB) {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("walker ended with %v, want context.Canceled", err)
		}
	case <-time.After(safety):
		t.Fatal("walker did not stop")
	}
}

// next returns the walker's next stop.
func (w *walker) next(t testing.TB) walkthrough.Event {
	t.Helper()
	select {
	case ev := <-w.events:
		return ev
	case err := <-w.done:
		t.Fatalf("walker ended: %v", err)
	case <-time.After(safety):
		t.Fatal("no stop came")
	}
	return walkthrough.Event{}
}

// until returns the stops up to and including the first of phase for
// connection n.
func (w *walker) until(t testing.TB, n int, phase walkthrough.PhaseID) []walkthrough.Event {
	t.Helper()
	var evs []walkthrough.Event
	for {
		ev := w.next(t)
		evs = append(evs, ev)
		if ev.Connection == n && ev.Phase == phase {
			return evs
		}
	}
}

// childrenOf returns the pids of live or zombie processes whose parent is
// pid and whose command line names ChildCommand (Linux only).
func childrenOf(t testing.TB, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		ppid := -1
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "PPid:"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
					ppid = n
				}
			}
		}
		if ppid != pid {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		// A zombie's cmdline is empty: count it too, it was not reaped.
		if len(cmdline) == 0 || strings.Contains(string(cmdline), ChildCommand) {
			kids = append(kids, p)
		}
	}
	return kids
}

// findFact returns the args of the first fact said with catalog key key.
func findFact(facts []walkthrough.Fact, key string) (map[string]string, bool) {
	for _, f := range facts {
		if f.Key == key {
			return f.Args, true
		}
	}
	return nil, false
}

// factsWith returns the args of every fact said with catalog key key, in
// order.
func factsWith(facts []walkthrough.Fact, key string) []map[string]string {
	var out []map[string]string
	for _, f := range facts {
		if f.Key == key {
			out = append(out, f.Args)
		}
	}
	return out
}

func kindsOf(fds []walkthrough.FD) map[string]int {
	m := map[string]int{}
	for _, fd := range fds {
		m[fd.Kind]++
	}
	return m
}

// untilEpilogues returns the stops up to and including the epilogues of
// every connection in ns, whatever their order.
func (w *walker) untilEpilogues(t testing.TB, ns ...int) []walkthrough.Event {
	t.Helper()
	left := map[int]bool{}
	for _, n := range ns {
		left[n] = true
	}
	var evs []walkthrough.Event
	for len(left) > 0 {
		ev := w.next(t)
		evs = append(evs, ev)
		if ev.Phase == walkthrough.Epilogue {
			delete(left, ev.Connection)
		}
	}
	return evs
}
