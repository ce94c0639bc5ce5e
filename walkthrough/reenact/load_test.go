//go:build linux

package reenact

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// loadClient is what one client connection saw.
type loadClient struct {
	pid  int
	key  int32
	via  string
	dead int // attempts refused as dead ends (too many clients) first
}

// connectOnce connects to the mini postmaster, reads the BackendKeyData
// pgconn received, and closes (Terminate). A connection refused because
// every child slot was taken ("sorry, too many clients already", as
// PostgreSQL says past max_connections) is retried.
func connectOnce(ctx context.Context, d *Driver, tcp bool) (loadClient, error) {
	host, via := d.SocketDir(), "unix"
	if tcp {
		host, via = "127.0.0.1", "tcp"
	}
	conninfo := fmt.Sprintf("host=%s port=%d user=postgres database=postgres sslmode=disable connect_timeout=60", host, d.Port())
	c := loadClient{via: via}
	for {
		conn, err := pgconn.Connect(ctx, conninfo)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "53300" && c.dead < 100 {
				c.dead++
				continue
			}
			return c, err
		}
		c.pid = int(conn.PID())
		sk := conn.SecretKey()
		if len(sk) != 4 {
			conn.Close(ctx)
			return c, fmt.Errorf("secret key of %d bytes", len(sk))
		}
		c.key = int32(binary.BigEndian.Uint32(sk))
		return c, conn.Close(ctx)
	}
}

// countFDs returns how many file descriptors this process has open.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// collector calls Next until cancelled and keeps every stop.
type collector struct {
	mu        sync.Mutex
	events    []walkthrough.Event
	epilogues int
	cond      *sync.Cond
	err       error
	done      chan struct{}
	cancel    context.CancelFunc
}

func collect(d *Driver) *collector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{done: make(chan struct{}), cancel: cancel}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		defer close(c.done)
		for {
			ev, err := d.Next(ctx)
			c.mu.Lock()
			if err != nil {
				c.err = err
				c.cond.Broadcast()
				c.mu.Unlock()
				return
			}
			c.events = append(c.events, ev)
			if ev.Phase == walkthrough.Epilogue {
				c.epilogues++
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}()
	return c
}

// waitEpilogues waits until n connections had their closing check.
func (c *collector) waitEpilogues(t testing.TB, n int) {
	t.Helper()
	timer := time.AfterFunc(safety, func() {
		c.mu.Lock()
		c.err = fmt.Errorf("only %d of %d closing checks came", c.epilogues, n)
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.epilogues < n && c.err == nil {
		c.cond.Wait()
	}
	if c.epilogues < n {
		t.Fatalf("waiting for %d closing checks: %v", n, c.err)
	}
}

// settle waits, within safety, until f reports true; it bounds a hang and
// asserts nothing about time.
func settle(f func() bool) bool {
	deadline := time.Now().Add(safety)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// TestLoad drives the re-enactment in wait-for-client mode, without
// pauses, with 1,000 sequential client connections (100 with -short) and
// then 50 concurrent ones, half over the Unix socket and half over TCP.
// Every child must be reaped, the postmaster's open descriptors and
// goroutines must not grow, and every client must have received the
// BackendKeyData of its own backend: the pid the postmaster forked and
// the cancel key it generated for that connection.
func TestLoad(t *testing.T) {
	sequential, concurrent := 1000, 50
	if testing.Short() {
		sequential = 100
	}
	v := version(t, "16.4")
	d := startDriver(t, walkthrough.DriverOptions{Version: v, WaitForClient: true}, nil)
	col := collect(d)
	defer func() {
		col.cancel()
		within(t, col.done, "end of the collector after its context was cancelled")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*safety)
	defer cancel()

	// One connection first, so that everything a first connection sets
	// up for good (the runtime's poller, the launcher's thread) counts in
	// the baseline.
	warm, err := connectOnce(ctx, d, false)
	if err != nil {
		t.Fatal(err)
	}
	col.waitEpilogues(t, 1)
	fdsBefore, goBefore := countFDs(t), runtime.NumGoroutine()

	clients := []loadClient{warm}
	for i := range sequential {
		c, err := connectOnce(ctx, d, i%2 == 1)
		if err != nil {
			t.Fatalf("sequential client %d: %v", i+1, err)
		}
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	var errs []error
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := connectOnce(ctx, d, i%2 == 1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("concurrent client %d: %w", i+1, err))
				return
			}
			clients = append(clients, c)
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	deadEnds := 0
	for _, c := range clients {
		deadEnds += c.dead
	}
	total := len(clients) + deadEnds
	col.waitEpilogues(t, total)

	col.mu.Lock()
	events := append([]walkthrough.Event(nil), col.events...)
	col.mu.Unlock()

	// What the postmaster did, per connection.
	type backend struct {
		pid     int
		key     *int32
		checked bool
	}
	byConn := map[int]*backend{}
	get := func(n int) *backend {
		if byConn[n] == nil {
			byConn[n] = &backend{}
		}
		return byConn[n]
	}
	failed := 0
	for _, ev := range events {
		b := get(ev.Connection)
		switch ev.Phase {
		case walkthrough.StructInit:
			b.key = ev.Values.CancelKey
		case walkthrough.Fork:
			b.pid = ev.Values.ChildPID
		case walkthrough.Epilogue:
			b.checked = true
			for _, c := range ev.Values.Checks {
				if !c.OK {
					failed++
					if failed <= 5 {
						t.Errorf("connection %d: check %s failed: %v", ev.Connection, c.Key, c.Args)
					}
				}
			}
		}
	}
	if len(byConn) != total {
		t.Errorf("the postmaster walked %d connections, the clients made %d", len(byConn), total)
	}
	byPID := map[int]*backend{}
	for n, b := range byConn {
		if b.pid == 0 || b.key == nil || !b.checked {
			t.Errorf("connection %d: incomplete (pid %d, key set %v, closing check %v)", n, b.pid, b.key != nil, b.checked)
			continue
		}
		if byPID[b.pid] != nil {
			t.Errorf("pid %d forked twice", b.pid)
		}
		byPID[b.pid] = b
	}
	for i, c := range clients {
		b := byPID[c.pid]
		switch {
		case b == nil:
			t.Errorf("client %d (%s) got BackendKeyData pid %d, which the postmaster never forked", i, c.via, c.pid)
		case *b.key != c.key:
			t.Errorf("client %d (%s): key %d, but the postmaster generated %d for backend %d", i, c.via, c.key, *b.key, c.pid)
		}
	}

	// Every child reaped: this process has no child left, not even a
	// zombie.
	if !settle(func() bool { return len(childrenOf(t, os.Getpid())) == 0 }) {
		t.Errorf("children not reaped: %v", childrenOf(t, os.Getpid()))
	}
	const slack = 3 // a constant: the runtime may open or park a little
	fdsAfter := countFDs(t)
	var goAfter int
	settle(func() bool { goAfter = runtime.NumGoroutine(); return goAfter <= goBefore+slack })
	t.Logf("connections served: %d sequential + %d concurrent + 1 warm-up = %d (%d refused as dead ends and retried), %d closing checks, %d failed checks",
		sequential, concurrent, len(clients), deadEnds, col.epilogues, failed)
	t.Logf("postmaster fds: %d before, %d after; goroutines: %d before, %d after", fdsBefore, fdsAfter, goBefore, goAfter)
	if fdsAfter > fdsBefore+slack {
		t.Errorf("open fds grew from %d to %d", fdsBefore, fdsAfter)
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents[:min(len(ents), 40)] {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			t.Logf("fd %s -> %s", e.Name(), target)
		}
	}
	if goAfter > goBefore+slack {
		t.Errorf("goroutines grew from %d to %d", goBefore, goAfter)
	}
}
