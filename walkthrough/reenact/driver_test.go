//go:build unix

package reenact

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestRunEveryPhase runs the whole re-enactment for each version and checks
// the values the stops report against each other and against the OS.
func TestRunEveryPhase(t *testing.T) {
	tests := []struct {
		version   string
		allocator string
		structure string
		order     string
		initOrder string
	}{
		{"16.4", "malloc(sizeof(Backend))", "Port", "InitPostmasterChild, then ClosePostmasterPorts",
			"RandomCancelKey (4139) → bn->cancel_key (4148) → canAcceptConnections (4151) → dead_end (4152) → child_slot (4157-4160) → bgworker_notify (4163)"},
		{"17.1", "palloc_extended(sizeof(Backend), MCXT_ALLOC_NO_OOM)", "ClientSocket + BackendStartupData", "ClosePostmasterPorts, then InitPostmasterChild",
			"RandomCancelKey (3568) → canAcceptConnections (3578) → dead_end (3579) → bn->cancel_key (3580) → child_slot (3585-3588) → bgworker_notify (3591)"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, tt.version)}, nil)
			dir := d.SocketDir()
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("socket dir %s: %v, mode %v; want a 0700 directory", dir, err, st.Mode().Perm())
			}
			if _, err := os.Stat(fmt.Sprintf("%s/.s.PGSQL.%d", dir, d.Port())); err != nil {
				t.Errorf("Unix socket not named after the port: %v", err)
			}
			listenInodes := map[string]bool{}
			for _, ln := range []syscall.Conn{d.tcpLn, d.unixLn} {
				if err := withFD(ln, func(fd int) error {
					ino, err := inode(fd)
					listenInodes[fmt.Sprintf("socket:[%d]", ino)] = true
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}

			var childAlive error = errors.New("no child stop")
			var outsideFDs []int
			pmSocketOpen := errors.New("no registration stop")
			evs := runAll(t, d, func(ev walkthrough.Event) {
				if ev.Phase == walkthrough.ParentRegistration {
					// Still inside BackendStartup: the postmaster's
					// copy of the client socket must still be open.
					c := d.cur
					ino, err := inode(c.pmFD)
					switch {
					case err != nil:
						pmSocketOpen = err
					case c.nc == nil || ino != c.pmInode:
						pmSocketOpen = fmt.Errorf("fd %d is inode %d, want the client socket's %d", c.pmFD, ino, c.pmInode)
					default:
						pmSocketOpen = nil
					}
				}
				if ev.Phase != walkthrough.Child {
					return
				}
				// The child is paused at this stop: it must be a live
				// process, and its fd table seen from outside must be the
				// one it reported.
				childAlive = syscall.Kill(ev.PID, 0)
				if runtime.GOOS == "linux" {
					outsideFDs = procFDs(t, ev.PID)
				}
			})

			want := []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration, walkthrough.Epilogue}
			var got []walkthrough.PhaseID
			for _, ev := range evs {
				got = append(got, ev.Phase)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("phases = %v, want %v", got, want)
			}
			creation, init, fork, child, reg, epi := evs[0], evs[1], evs[2], evs[3], evs[4], evs[5]
			pm := os.Getpid()
			for _, ev := range []walkthrough.Event{creation, init, fork, reg} {
				if ev.Process != walkthrough.Postmaster || ev.PID != pm {
					t.Errorf("%s: process %s pid %d, want postmaster %d", ev.Phase, ev.Process, ev.PID, pm)
				}
			}
			for _, ev := range evs {
				if ev.Connection != 1 {
					t.Errorf("%s: connection %d, want 1", ev.Phase, ev.Connection)
				}
			}

			// Struct creation: the version's allocator and struct.
			if v, _ := findFact(creation.Values.Facts, "fact.reenact.allocator"); v["allocator"] != tt.allocator {
				t.Errorf("allocator = %v, want %q", v, tt.allocator)
			}
			if v, _ := findFact(creation.Values.Facts, "fact.reenact.conn_struct"); v["struct"] != tt.structure {
				t.Errorf("struct = %v, want %q", v, tt.structure)
			}
			if creation.Values.BackendList == nil || len(creation.Values.BackendList) != 0 {
				t.Errorf("struct-creation backend_list = %#v, want observed and empty", creation.Values.BackendList)
			}
			if v, _ := findFact(init.Values.Facts, "fact.reenact.init_order"); v["steps"] != tt.initOrder {
				t.Errorf("struct-init order = %v, want %q", v, tt.initOrder)
			}

			// Struct init.
			if init.Values.CancelKey == nil || init.Values.ChildSlot == nil || init.Values.DeadEnd == nil || init.Values.Backend == nil {
				t.Fatalf("struct-init values incomplete: %+v", init.Values)
			}
			key, slot := *init.Values.CancelKey, *init.Values.ChildSlot
			if init.Values.CanAccept != "CAC_OK" || *init.Values.DeadEnd || slot != slotCount {
				t.Errorf("struct-init: can_accept %s dead_end %v slot %d; want CAC_OK, false, %d (the first slot PostgreSQL's scan picks)",
					init.Values.CanAccept, *init.Values.DeadEnd, slot, slotCount)
			}
			if b := init.Values.Backend; b.CancelKey != key || b.ChildSlot != slot || b.PID != 0 || b.BgworkerNotify {
				t.Errorf("struct-init Backend = %+v", *b)
			}

			// Fork: the child pid, as the launch returned it.
			childPID := fork.Values.ChildPID
			if childPID <= 0 || fork.Values.ForkReturn == nil || *fork.Values.ForkReturn != childPID {
				t.Fatalf("fork: child_pid %d fork_return %v", childPID, fork.Values.ForkReturn)
			}
			if fork.Values.Backend == nil || fork.Values.Backend.PID != 0 {
				t.Errorf("fork: Backend.pid should still be 0 before registration: %+v", fork.Values.Backend)
			}

			// Child.
			if child.Process != walkthrough.Backend || child.PID != childPID || child.Values.ChildPID != childPID {
				t.Errorf("child stop: process %s pid %d, want backend %d", child.Process, child.PID, childPID)
			}
			if childAlive != nil {
				t.Errorf("kill(%d, 0) at the child stop: %v; want a live process", childPID, childAlive)
			}
			if child.Values.ForkReturn != nil {
				t.Errorf("child stop claims fork_return %d: nothing returns from a fork in an exec'd child", *child.Values.ForkReturn)
			}
			if child.Values.PostmasterPID != pm {
				t.Errorf("child's parent = %d, want %d", child.Values.PostmasterPID, pm)
			}
			if child.Values.CancelKey == nil || *child.Values.CancelKey != key || child.Values.ChildSlot == nil || *child.Values.ChildSlot != slot {
				t.Errorf("child got key %v slot %v, want %d %d", child.Values.CancelKey, child.Values.ChildSlot, key, slot)
			}
			if v, _ := findFact(child.Values.Facts, "fact.reenact.child_order"); v["first"]+", then "+v["second"] != tt.order {
				t.Errorf("order = %v, want %q", v, tt.order)
			}
			before, after := kindsOf(child.Values.FDsBefore), kindsOf(child.Values.FDsAfter)
			if before[walkthrough.FDListenSocket] != 2 || before[walkthrough.FDDeathPipeWrite] != 1 || before[walkthrough.FDDeathPipeRead] != 1 || before[walkthrough.FDClientSocket] != 1 {
				t.Errorf("fds before = %v; want 2 listen sockets, both death pipe ends, the client socket", child.Values.FDsBefore)
			}
			if after[walkthrough.FDListenSocket] != 0 || after[walkthrough.FDDeathPipeWrite] != 0 {
				t.Errorf("fds after still hold listen sockets or the death pipe write end: %v", child.Values.FDsAfter)
			}
			if after[walkthrough.FDClientSocket] != 1 || after[walkthrough.FDDeathPipeRead] != 1 {
				t.Errorf("fds after lost the client socket or the death pipe read end: %v", child.Values.FDsAfter)
			}
			if closed := kindsOf(child.Values.ClosedFDs); len(child.Values.ClosedFDs) != 3 || closed[walkthrough.FDListenSocket] != 2 || closed[walkthrough.FDDeathPipeWrite] != 1 {
				t.Errorf("closed fds = %v", child.Values.ClosedFDs)
			}
			if runtime.GOOS == "linux" {
				for _, fd := range child.Values.FDsBefore {
					if fd.Kind == walkthrough.FDListenSocket && !listenInodes[fd.Target] {
						t.Errorf("fd %d classified as a listen socket points at %s, not at the postmaster's listeners %v", fd.Num, fd.Target, listenInodes)
					}
				}
				var reported []int
				for _, fd := range child.Values.FDsAfter {
					reported = append(reported, fd.Num)
				}
				if !slices.Equal(reported, outsideFDs) {
					t.Errorf("fds after (reported) %v != /proc/%d/fd seen from outside %v", reported, childPID, outsideFDs)
				}
			}

			// Parent registration.
			if len(reg.Values.Log) != 1 || !strings.HasPrefix(reg.Values.Log[0], fmt.Sprintf("forked new backend, pid=%d socket=", childPID)) {
				t.Errorf("registration log = %q", reg.Values.Log)
			}
			if reg.Values.ForkReturn == nil || *reg.Values.ForkReturn != childPID {
				t.Errorf("registration fork_return = %v, want %d", reg.Values.ForkReturn, childPID)
			}
			if reg.Values.Backend == nil || reg.Values.Backend.PID != childPID {
				t.Errorf("registration backend = %+v, want pid %d", reg.Values.Backend, childPID)
			}
			if pmSocketOpen != nil {
				t.Errorf("at the registration stop the postmaster's client socket is not open: %v", pmSocketOpen)
			}
			if v, ok := findFact(epi.Values.Facts, "fact.reenact.pm_socket_closed"); !ok || v["at"] != d.fl.serverLoopClose {
				t.Errorf("epilogue says of the postmaster's client socket %v, want closed by ServerLoop at %s", epi.Values.Facts, d.fl.serverLoopClose)
			}
			wantNode := walkthrough.BackendNode{PID: childPID, CancelKey: key, ChildSlot: slot, BkendType: "BACKEND_TYPE_NORMAL"}
			if !slices.Contains(reg.Values.BackendList, wantNode) {
				t.Errorf("BackendList = %+v, want it to hold %+v", reg.Values.BackendList, wantNode)
			}

			// Epilogue.
			if epi.Process != walkthrough.Client {
				t.Errorf("epilogue process = %s", epi.Process)
			}
			if k := epi.Values.ClientBackendKey; k == nil || k.PID != childPID || k.SecretKey != key {
				t.Errorf("client got BackendKeyData %+v, want pid %d key %d", k, childPID, key)
			}
			if len(epi.Values.Checks) < 5 {
				t.Errorf("epilogue has %d checks, want at least 5", len(epi.Values.Checks))
			}
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %v", c.Key, c.Args)
				}
			}
			if len(epi.Values.BackendList) != 0 {
				t.Errorf("BackendList after the child exited = %+v", epi.Values.BackendList)
			}
			if v, _ := findFact(epi.Values.Facts, "fact.reenact.query_answer"); v["query"] != `"SELECT 1"` || !strings.Contains(v["answer"], queryErrorCode) {
				t.Errorf("query answer = %v, want a %s error to \"SELECT 1\"", v, queryErrorCode)
			}
			if err := syscall.Kill(childPID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("kill(%d, 0) after the run = %v, want ESRCH (reaped)", childPID, err)
			}
			if _, err := d.Next(context.Background()); !errors.Is(err, walkthrough.EOF) {
				t.Errorf("Next after the end = %v, want EOF", err)
			}

			if err := d.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("socket dir %s still there after Close: %v", dir, err)
			}
		})
	}
}

// procFDs lists /proc/pid/fd from outside the process.
func procFDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/fd: %v", pid, err)
	}
	var nums []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err == nil {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums
}

// TestForkFailure makes the launch fail for real and walks the failure
// branch: with a process limit where the machine allows one (the errno
// is then the kernel's), and with the fallback, the exec of a program
// that does not exist (ENOENT).
func TestForkFailure(t *testing.T) {
	for _, name := range []string{"16.4", "17.1", "18.4", "16.4 without a limit"} {
		t.Run(name, func(t *testing.T) {
			release, noLimit := strings.CutSuffix(name, " without a limit")
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, release), Scenario: walkthrough.ScenarioForkFailure},
				func(d *Driver) { d.noLimit = noLimit })
			wantErrno := syscall.ENOENT
			if d.limit != nil {
				wantErrno = d.limit.Errno
			}
			evs := runAll(t, d, nil)
			want := []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.ForkFailure, walkthrough.Epilogue}
			var got []walkthrough.PhaseID
			for _, ev := range evs {
				got = append(got, ev.Phase)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("phases = %v, want %v", got, want)
			}
			init, fork, fail, epi := evs[1], evs[2], evs[3], evs[4]
			if fork.Values.ForkReturn == nil || *fork.Values.ForkReturn != -1 || fork.Values.ChildPID != 0 {
				t.Errorf("fork: fork_return %v child_pid %d, want -1 and none", fork.Values.ForkReturn, fork.Values.ChildPID)
			}
			if fail.Values.ForkReturn == nil || *fail.Values.ForkReturn != -1 || fail.Values.BackendList == nil || len(fail.Values.BackendList) != 0 {
				t.Errorf("fork-failure: fork_return %v backend_list %#v, want -1 and an observed empty list", fail.Values.ForkReturn, fail.Values.BackendList)
			}
			e := fail.Values.Errno
			if e == nil || e.Code != int(wantErrno) || e.Name != unix.ErrnoName(wantErrno) || e.Message != strerror(wantErrno) {
				t.Fatalf("errno = %+v, want %s", e, errnoName(wantErrno))
			}
			wantLog := "could not fork new process for connection: " + e.Message
			if !slices.Equal(fail.Values.Log, []string{wantLog}) {
				t.Errorf("log = %q, want %q", fail.Values.Log, wantLog)
			}
			if fail.Values.ChildSlot == nil || *fail.Values.ChildSlot != *init.Values.ChildSlot {
				t.Errorf("fork-failure slot %v, want the assigned %d", fail.Values.ChildSlot, *init.Values.ChildSlot)
			}
			if slotTaken(d, *init.Values.ChildSlot) {
				t.Errorf("slot %d still taken after the failure", *init.Values.ChildSlot)
			}
			if epi.Values.ClientBackendKey != nil {
				t.Errorf("client got a BackendKeyData after a failed fork: %+v", epi.Values.ClientBackendKey)
			}
			if v, _ := findFact(epi.Values.Facts, "fact.reenact.client_error"); !strings.Contains(v["error"], wantLog) {
				t.Errorf("client error = %v, want it to contain %q", v, wantLog)
			}
			if len(epi.Values.Checks) != 4 {
				t.Errorf("checks = %+v, want 4", epi.Values.Checks)
			}
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %v", c.Key, c.Args)
				}
			}
			if runtime.GOOS == "linux" {
				if kids := childrenOf(t, os.Getpid()); len(kids) != 0 {
					t.Errorf("backend processes left: %v", kids)
				}
			}
		})
	}
}

// slotTaken reports whether slot is taken, in the pool of a release that
// has one, in the slot table otherwise.
func slotTaken(d *Driver, slot int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool != nil {
		return !d.pool.isFree(slot)
	}
	return d.slots[slot-1]
}

// TestMalformedStartupPacket sends garbage as a startup packet: that child
// ends, and the postmaster serves the next client.
func TestMalformedStartupPacket(t *testing.T) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "17.1"), WaitForClient: true}, nil)
	w := walk(d)
	defer w.stop(t)

	bad := dialUnix(t, d)
	// A length of 2 is shorter than any startup packet.
	if _, err := bad.Write([]byte{0, 0, 0, 2, 0xde, 0xad}); err != nil {
		t.Fatal(err)
	}
	evs := w.until(t, 1, walkthrough.Epilogue)
	epi := evs[len(evs)-1]
	if !slices.ContainsFunc(epi.Values.Log, func(s string) bool { return strings.Contains(s, "invalid startup packet") }) {
		t.Errorf("epilogue log = %q, want the startup packet error", epi.Values.Log)
	}
	if epi.Values.ClientBackendKey != nil {
		t.Errorf("a malformed packet got BackendKeyData %+v", epi.Values.ClientBackendKey)
	}
	for _, c := range epi.Values.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %v", c.Key, c.Args)
		}
	}
	bad.Close()

	good := dialUnix(t, d)
	resc := make(chan clientResult, 1)
	go func() { resc <- runClient(good) }()
	evs = w.until(t, 2, walkthrough.Epilogue)
	res := within(t, resc, "result of the second client")
	if res.Err != nil {
		t.Fatalf("second client: %v", res.Err)
	}
	var fork walkthrough.Event
	for _, ev := range evs {
		if ev.Phase == walkthrough.Fork {
			fork = ev
		}
	}
	if res.Key == nil || res.Key.PID != fork.Values.ChildPID {
		t.Errorf("second client's key %+v, want pid %d", res.Key, fork.Values.ChildPID)
	}
	if !strings.Contains(res.QueryError, queryErrorMessage) {
		t.Errorf("query error = %q", res.QueryError)
	}
}

// TestCloseAtEveryStop abandons a run after each number of stops, with and
// without cancelling the context, and checks that nothing is left.
func TestCloseAtEveryStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts child processes through /proc")
	}
	type variant struct {
		name  string
		opts  walkthrough.DriverOptions
		stops int
	}
	v16, v17, v18 := version(t, "16.4"), version(t, "17.1"), version(t, "18.4")
	variants := []variant{
		{"16.4", walkthrough.DriverOptions{Version: v16}, 6},
		{"17.1", walkthrough.DriverOptions{Version: v17}, 6},
		{"17.1 fork-failure", walkthrough.DriverOptions{Version: v17, Scenario: walkthrough.ScenarioForkFailure}, 5},
		{"16.4 wait-for-client", walkthrough.DriverOptions{Version: v16, WaitForClient: true}, 6},
		{"18.4", walkthrough.DriverOptions{Version: v18}, 6},
		{"18.4 fork-failure", walkthrough.DriverOptions{Version: v18, Scenario: walkthrough.ScenarioForkFailure}, 5},
	}
	for _, v := range variants {
		for k := 0; k <= v.stops+1; k++ {
			for _, cancelCtx := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/after %d/cancel=%v", v.name, k, cancelCtx), func(t *testing.T) {
					closeAfter(t, v.opts, k, cancelCtx)
				})
			}
		}
	}
}

func closeAfter(t *testing.T, opts walkthrough.DriverOptions, k int, cancelCtx bool) {
	before := driverGoroutines(t)
	d := New(opts)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := d.SocketDir()
	var clientDone chan clientResult
	if opts.WaitForClient {
		nc := dialUnix(t, d)
		clientDone = make(chan clientResult, 1)
		go func() { clientDone <- runClient(nc) }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pids []int
	for i := 0; i < k; i++ {
		if opts.WaitForClient && i == k-1 && k > 6 {
			// The run waits for another client that never comes.
			go cancel()
		}
		ev, err := d.Next(ctx)
		if err != nil {
			if errors.Is(err, walkthrough.EOF) || errors.Is(err, context.Canceled) {
				break
			}
			t.Fatalf("Next %d: %v", i+1, err)
		}
		if ev.Values.ChildPID > 0 {
			pids = append(pids, ev.Values.ChildPID)
		}
	}
	if cancelCtx {
		cancel()
		if _, err := d.Next(ctx); err == nil {
			t.Error("Next with a cancelled context returned a stop")
		}
	}
	// The check after Close sees the driver's goroutines: the launcher
	// and the accept loop at least.
	if running := newGoroutines(before, driverGoroutines(t)); len(running) < 2 {
		t.Errorf("saw %d goroutine(s) of the running driver, want at least 2 (launcher, accept loop):\n%s", len(running), strings.Join(running, "\n\n"))
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if clientDone != nil {
		select {
		case <-clientDone:
		case <-time.After(safety):
			t.Fatal("the test's psql stand-in did not end after Close")
		}
	}
	if kids := childrenOf(t, os.Getpid()); len(kids) != 0 {
		t.Errorf("backend processes left after Close: %v", kids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill(%d, 0) after Close = %v, want ESRCH", pid, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Close: %v", dir, err)
	}
	// Close waited for the driver's goroutines (its WaitGroup); the
	// ones that have signalled their end may still be returning. Wait,
	// at most safety, until none that this driver started is left.
	deadline := time.Now().Add(safety)
	for {
		left := newGoroutines(before, driverGoroutines(t))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutine(s) of the driver still there %v after Close:\n%s", len(left), safety, strings.Join(left, "\n\n"))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// driverGoroutines returns the goroutines that run or were started by this
// package's own code (its non-test files), by id, each with its stack.
// Goroutines of the tests themselves, of the runtime and of other
// packages do not count, so the check does not depend on what else the
// test binary runs.
func driverGoroutines(t testing.TB) map[string]string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller: no file for this test")
	}
	dir := filepath.Dir(self) + "/"
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		id, ok := strings.CutPrefix(header, "goroutine ")
		if !ok {
			continue
		}
		id, _, _ = strings.Cut(id, " ")
		for _, line := range strings.Split(g, "\n") {
			// Frame and creator locations: "\t/dir/file.go:123 +0x1f".
			file, ok := strings.CutPrefix(line, "\t")
			if !ok {
				continue
			}
			file, _, _ = strings.Cut(file, ":")
			if strings.HasPrefix(file, dir) && !strings.Contains(file[len(dir):], "/") && !strings.HasSuffix(file, "_test.go") {
				out[id] = g
				break
			}
		}
	}
	return out
}

// newGoroutines returns the stacks in after whose goroutine is not in
// before.
func newGoroutines(before, after map[string]string) []string {
	var out []string
	for id, g := range after {
		if _, ok := before[id]; !ok {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// TestCloseWithoutStart checks Close after no Start and after a failed one.
func TestCloseWithoutStart(t *testing.T) {
	d := New(walkthrough.DriverOptions{Version: version(t, "16.4")})
	if err := d.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	d = New(walkthrough.DriverOptions{Version: version(t, "16.4"), Scenario: "no-such-scenario"})
	if err := d.Start(context.Background()); err == nil {
		t.Error("Start accepted an unknown scenario")
	}
	if _, err := d.Next(context.Background()); err == nil {
		t.Error("Next after a failed Start returned a stop")
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after a failed Start: %v", err)
	}
}

// TestWaitForClientSays checks that the psql command lines are announced,
// as catalog messages, and that nothing is said old-style.
func TestWaitForClientSays(t *testing.T) {
	var said []walkthrough.Msg
	var lines []string
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "17.1"), WaitForClient: true,
		Teller: func(m walkthrough.Msg) { said = append(said, m) },
		Notify: func(l string) { lines = append(lines, l) }}, nil)
	if len(lines) != 0 {
		t.Errorf("said old-style: %q", lines)
	}
	var cmds []string
	for _, m := range said {
		if m.Key == "say.reenact.psql_command" {
			cmds = append(cmds, m.Args["command"])
		}
	}
	if !slices.Equal(cmds, d.PsqlCommands()) {
		t.Errorf("psql commands said %q, want %q (all: %v)", cmds, d.PsqlCommands(), said)
	}
	if all := strings.Join(cmds, "\n"); !strings.Contains(all, fmt.Sprintf("-h %s -p %d", d.SocketDir(), d.Port())) {
		t.Errorf("no psql line for the Unix socket in %q", cmds)
	}
	if len(said) == 0 || said[0].Key != "say.reenact.waiting" || said[0].Args["pid"] != fmt.Sprint(os.Getpid()) {
		t.Errorf("first message %v, want say.reenact.waiting with this pid", said)
	}
}

// TestDeadEnd fills BackendList up to MaxLivePostmasterChildren:
// canAcceptConnections counts the children and answers CAC_TOOMANY, the
// child gets no slot (the slot table stays untouched) and only refuses the
// client.
func TestDeadEnd(t *testing.T) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "16.4")}, func(d *Driver) {
		for i := range d.maxChildren {
			// Live children the mini postmaster did not start: pids above
			// any pid_max, never signalled.
			d.backendList = append(d.backendList, &walkthrough.BackendNode{PID: 1_000_000_000 + i, ChildSlot: i + 1, BkendType: "BACKEND_TYPE_NORMAL"})
		}
	})
	evs := runAll(t, d, nil)
	if len(evs) != 6 {
		t.Fatalf("got %d stops, want 6", len(evs))
	}
	init, reg, epi := evs[1], evs[4], evs[5]
	if init.Values.CanAccept != "CAC_TOOMANY" || init.Values.DeadEnd == nil || !*init.Values.DeadEnd || *init.Values.ChildSlot != 0 {
		t.Errorf("struct-init = can_accept %s dead_end %v slot %v; want CAC_TOOMANY, true, 0", init.Values.CanAccept, init.Values.DeadEnd, *init.Values.ChildSlot)
	}
	if n := d.slotsInUse(); n != 0 {
		t.Errorf("%d slots taken: a dead-end child must get none", n)
	}
	if head := reg.Values.BackendList[0]; !head.DeadEnd || head.ChildSlot != 0 || head.PID != reg.Values.ChildPID {
		t.Errorf("registered %+v, want a dead-end record with slot 0 for pid %d", head, reg.Values.ChildPID)
	}
	if epi.Values.ClientBackendKey != nil {
		t.Errorf("a dead-end backend sent BackendKeyData %+v", epi.Values.ClientBackendKey)
	}
	if v, _ := findFact(epi.Values.Facts, "fact.reenact.client_error"); !strings.Contains(v["error"], "sorry, too many clients already") {
		t.Errorf("client error = %v", v)
	}
	for _, c := range epi.Values.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %v", c.Key, c.Args)
		}
	}
}
