//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live"
)

// driverRow is one driver as the harness runs it. Adding a driver to the
// harness is adding a row to driverRows.
type driverRow struct {
	// name is the row's name in test names.
	name string
	// args select the driver (and scenario) on pgwalk's command line.
	args []string
	// optional is set for a driver that may be unable to run on this
	// machine (the live driver needs Linux x86-64, ptrace and a
	// PostgreSQL of the version): when its census run fails, its rows
	// are skipped with pgwalk's own reason instead of failing.
	optional bool
	// systemTemp runs pgwalk with the system's temporary directory
	// instead of a private TMPDIR per run (the live driver keeps a copy
	// of the PostgreSQL installation there, reused by every run).
	systemTemp bool
	// holds is what the harness must see the driver hold at its first
	// stop with a child process (or its first stop when it has none):
	// proof that the checks after an interrupt look at something.
	holds holds
}

// holds is the least a run holds at a stop.
type holds struct {
	procs    int  // processes, pgwalk included
	tempDir  bool // a temporary directory
	unixSock bool // a Unix socket file
	tcp      bool // a TCP listen socket
	sysvShm  bool // a System V shared memory segment
	traced   bool // a process pgwalk traces with ptrace
}

var driverRows = []driverRow{
	{name: "reenact", args: []string{"--driver", "reenact"},
		holds: holds{procs: 2, tempDir: true, unixSock: true, tcp: true}},
	{name: "reenact-fork-failure", args: []string{"--driver", "reenact", "--scenario", "fork-failure"},
		holds: holds{procs: 1, tempDir: true, unixSock: true, tcp: true}},
	// pgwalk's own held session's backend fills the table from the
	// first stop on.
	{name: "reenact-too-many-clients", args: []string{"--driver", "reenact", "--scenario", "too-many-clients"},
		holds: holds{procs: 2, tempDir: true, unixSock: true, tcp: true}},
	{name: "narrate", args: []string{"--driver", "narrate"},
		holds: holds{procs: 1}},
	{name: "live", args: []string{"--driver", "live"}, optional: true, systemTemp: true,
		holds: holds{procs: 4, tempDir: true, unixSock: true, sysvShm: true, traced: true}},
}

// censusOf runs pgwalk with args to the end for row and returns its
// stops. The run must leave its private TMPDIR empty. When it fails, the
// test ends as cannotRun says.
func censusOf(t *testing.T, row driverRow, args []string) []walkthrough.Event {
	t.Helper()
	tmp := runTemp(t, row)
	stops, why := census(t, baseEnv("census", tmp), args...)
	if why != "" {
		cannotRun(t, row, why)
	}
	checkEmpty(t, tmp)
	return stops
}

// cannotRun ends a test whose census run of row failed with why: it
// skips an optional driver that cannot run on this machine, and fails
// otherwise. In CI (CI=true), which installs PostgreSQL, the live driver
// must run wherever live tracing is supported.
func cannotRun(t *testing.T, row driverRow, why string) {
	t.Helper()
	if row.optional && (os.Getenv("CI") != "true" || live.Supported() != nil) {
		t.Skipf("the %s driver cannot run here (%s); its rows run where it can", row.name, why)
	}
	t.Fatalf("census run of %s failed: %s", row.name, why)
}

// signalRow is one signal and how it reaches pgwalk.
type signalRow struct {
	sig  syscall.Signal
	code int
	// onTerminal delivers the signal to pgwalk running on a terminal the
	// way a user does.
	onTerminal func(t testing.TB, r *ptytest.Term)
	// group sends the signal to pgwalk's whole process group when pgwalk
	// runs off a terminal (as a terminal's Ctrl-C and hang-up do);
	// otherwise to pgwalk alone, as kill(1) does.
	group bool
}

var signalRows = []signalRow{
	// Ctrl-C: pgwalk keeps ISIG on while it reads keys, so the terminal
	// turns it into SIGINT for the whole foreground process group.
	{syscall.SIGINT, 130, func(t testing.TB, r *ptytest.Term) { r.Press("\x03") }, true},
	// kill PID, as a service manager or a shell's kill does.
	{syscall.SIGTERM, 143, func(t testing.TB, r *ptytest.Term) {
		if err := syscall.Kill(r.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}, false},
	// The terminal window closes: the kernel hangs the terminal up and
	// signals its session.
	{syscall.SIGHUP, 129, func(t testing.TB, r *ptytest.Term) { r.Hangup() }, true},
}

// runTemp returns the TMPDIR of one run: a new directory that must be
// empty again when the run is over, or "" for a row that uses the
// system's.
func runTemp(t *testing.T, row driverRow) string {
	t.Helper()
	if row.systemTemp {
		return ""
	}
	// Short, so that the Unix socket path inside stays far below the
	// 108 bytes sun_path allows.
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// checkEmpty fails t when the run's private TMPDIR is not empty.
func checkEmpty(t testing.TB, dir string) {
	t.Helper()
	if dir == "" {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in the run's TMPDIR: %s", e.Name())
	}
}

// reportedPIDs returns the pids an event names.
func reportedPIDs(ev walkthrough.Event) []int {
	var out []int
	for _, p := range []int{ev.PID, ev.Values.PostmasterPID, ev.Values.ChildPID} {
		if p > 0 {
			out = append(out, p)
		}
	}
	for _, b := range ev.Values.BackendList {
		if b.PID > 0 {
			out = append(out, b.PID)
		}
	}
	return out
}

// fullVersion is the release whose whole matrix runs: the one the
// README's first command walks. Every other release runs a deterministic
// sample of it (see sampled), so that adding a release to pgwalk adds a
// sample to the suite, not another full matrix.
const fullVersion = "16.4"

// versionRank returns 0 for fullVersion and 1, 2, ... for the other
// releases, in VersionNames order.
func versionRank(v string) int {
	if v == fullVersion {
		return 0
	}
	r := 1
	for _, name := range walkthrough.VersionNames() {
		if name == v {
			return r
		}
		if name != fullVersion {
			r++
		}
	}
	return r
}

// sampled reports whether variant j of m (a signal) runs at stop k for
// release v: every variant for fullVersion; for another release one
// variant per stop, rotating with the stop and the release's rank, so
// that across the releases every variant meets every stop.
func sampled(v string, k, j, m int) bool {
	r := versionRank(v)
	return r == 0 || (k+r)%m == j
}

// TestInterrupt runs pgwalk on a terminal for every driver and version,
// stops it at every pause with SIGINT (Ctrl-C typed on the terminal),
// SIGTERM (kill) and SIGHUP (the terminal closed), and checks the exit code
// and that nothing of the run is left: no process, no temporary directory,
// no socket, no shared memory.
//
// Each (driver, version) starts with a census run to the end, with
// --output json, that counts the stops. The interrupted runs are
// interactive, on a pseudo-terminal tall enough that no stop is paged: the
// harness presses n until stop k is on the screen, when pgwalk and its
// processes are paused. (--output json never pauses: --delay sleeps after
// every stop, so only the first stop can be held that way;
// TestInterruptJSON covers it.)
//
// fullVersion runs every (stop, signal); every other release runs every
// stop with one signal, rotating (sampled). With -short SIGTERM and SIGHUP
// run only at the first stop, the first stop where a child exists, and
// the last stop. Subtests run in parallel, at most -parallel at a time.
func TestInterrupt(t *testing.T) {
	pgwalkBinary(t)
	for _, row := range driverRows {
		t.Run(row.name, func(t *testing.T) {
			for _, v := range walkthrough.VersionNames() {
				t.Run(v, func(t *testing.T) {
					args := append([]string{"run", "--version", v}, row.args...)
					stops := censusOf(t, row, args)
					t.Logf("%d stops", len(stops))
					for k := 1; k <= len(stops); k++ {
						for j, sr := range signalRows {
							if !sampled(v, k, j, len(signalRows)) {
								continue
							}
							if testing.Short() && sr.sig != syscall.SIGINT && !keyStop(stops, k) {
								continue
							}
							name := fmt.Sprintf("stop%d-%s/%s", k, stops[k-1].Phase, sigName(sr.sig))
							t.Run(name, func(t *testing.T) {
								t.Parallel()
								interruptAt(t, row, args, k, sr)
							})
						}
					}
				})
			}
		})
	}
}

// TestInterruptJSON interrupts pgwalk running off a terminal with
// --output json while it waits out --delay after the first stop: the
// signal reaches a run whose stdout is a pipe and that reads no keys.
// fullVersion runs every signal, every other release one (sampled).
func TestInterruptJSON(t *testing.T) {
	pgwalkBinary(t)
	for _, row := range driverRows {
		t.Run(row.name, func(t *testing.T) {
			for _, v := range walkthrough.VersionNames() {
				t.Run(v, func(t *testing.T) {
					args := append([]string{"run", "--version", v}, row.args...)
					if row.optional {
						censusOf(t, row, args)
					}
					for j, sr := range signalRows {
						if !sampled(v, 0, j, len(signalRows)) {
							continue
						}
						t.Run(sigName(sr.sig), func(t *testing.T) {
							t.Parallel()
							interruptJSON(t, row, args, sr)
						})
					}
				})
			}
		})
	}
}

// keyStop reports whether stop k (from 1) is one of those -short keeps
// for every signal: the first, the first with a child process, the last.
func keyStop(stops []walkthrough.Event, k int) bool {
	if k == 1 || k == len(stops) {
		return true
	}
	for i, ev := range stops {
		if ev.Values.ChildPID > 0 {
			return i+1 == k
		}
	}
	return false
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return s.String()
}

// checkExit checks pgwalk's exit code and what it said on stderr.
func checkExit(t testing.TB, state *os.ProcessState, sr signalRow, stderr string) {
	t.Helper()
	if code := state.ExitCode(); code != sr.code {
		t.Errorf("exit code %d (%s), want %d; stderr:\n%s", code, state, sr.code, stderr)
	}
	if !strings.Contains(stderr, "stopped and cleaned up") {
		t.Errorf("stderr does not say it stopped and cleaned up:\n%s", stderr)
	}
	for _, bad := range []string{"cleaning up:", "WARNING: DATA RACE", "panic:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr has %q:\n%s", bad, stderr)
		}
	}
}

// runToStop runs pgwalk with args on a terminal in a private TMPDIR, presses
// n until stop k is on screen, and returns the run, what it had made by
// then, the run's id, the temp bases it may use, and its TMPDIR.
func runToStop(t *testing.T, row driverRow, args []string, k int) (r *ptytest.Term, fp footprint, id string, bases []string, tmp string) {
	t.Helper()
	tmp = runTemp(t, row)
	id = fmt.Sprintf("%d-%d", os.Getpid(), runCounter.Add(1))
	bases = tempBases(tmp)
	r = startPTY(t, baseEnv(id, tmp), 2000, 200, args...)
	r.WaitScreen(1)
	for i := 2; i <= k; i++ {
		r.Press("n")
		r.WaitScreen(i)
	}
	return r, takeFootprint(t, r.Pid(), nil, bases), id, bases, tmp
}

// interruptAt runs pgwalk on a terminal to stop k, delivers the signal,
// and checks.
func interruptAt(t *testing.T, row driverRow, args []string, k int, sr signalRow) {
	r, fp, id, bases, tmp := runToStop(t, row, args, k)
	sr.onTerminal(t, r)
	r.Wait()
	checkExit(t, r.ProcessState(), sr, r.Stderr())
	if got := len(r.Screens()); got != k {
		t.Errorf("pgwalk drew %d screens, want %d: the signal did not stop it at stop %d", got, k, k)
	}
	checkLoopback(t, fp)
	checkTracees(t, fp)
	checkLeftBehind(t, fp, r.Pid(), id, bases)
	checkEmpty(t, tmp)
	if t.Failed() {
		t.Logf("at the stop: processes %v, dirs %v, unix sockets %v, tcp %v, sysv shm %v", fp.Procs, fp.Dirs, fp.UnixPaths, fp.TCPListen, fp.SysVShm)
	}
}

// interruptJSON runs pgwalk with --output json --delay 1h, and delivers
// the signal while it sleeps after the first stop.
func interruptJSON(t *testing.T, row driverRow, args []string, sr signalRow) {
	tmp := runTemp(t, row)
	id := fmt.Sprintf("%d-%d", os.Getpid(), runCounter.Add(1))
	bases := tempBases(tmp)
	r := startJSON(t, baseEnv(id, tmp), id, append(args, "--delay", "1h")...)
	ev := r.next()
	fp := takeFootprint(t, r.pid(), reportedPIDs(ev), bases)
	target := r.pid()
	if sr.group {
		target = -target
	}
	if err := syscall.Kill(target, sr.sig); err != nil {
		t.Fatal(err)
	}
	r.wait()
	checkExit(t, r.cmd.ProcessState, sr, r.stderr.String())
	checkLeftBehind(t, fp, r.pid(), id, bases)
	checkEmpty(t, tmp)
}

// checkLoopback fails t when the run listens on TCP anywhere but the
// loopback interface.
func checkLoopback(t testing.TB, fp footprint) {
	t.Helper()
	for _, addr := range fp.TCPListen {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("listens on TCP %s, not on the loopback interface only", addr)
		}
	}
}
