//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestFootprintSeesTheRun checks the harness against each driver: at the
// first stop with a child process the footprint holds what the driver is
// known to hold (processes, its temporary directory, sockets, shared
// memory), and pressing q there ends the run cleanly, leaving nothing.
func TestFootprintSeesTheRun(t *testing.T) {
	pgwalkBinary(t)
	for _, row := range driverRows {
		t.Run(row.name, func(t *testing.T) {
			v := walkthrough.VersionNames()[0]
			args := append([]string{"run", "--version", v}, row.args...)
			stops := censusOf(t, row, args)
			k := 1
			for i, ev := range stops {
				if ev.Values.ChildPID > 0 {
					k = i + 1
					break
				}
			}
			tmp := runTemp(t, row)
			id := fmt.Sprintf("%d-%d", os.Getpid(), runCounter.Add(1))
			bases := tempBases(tmp)
			r := startPTY(t, baseEnv(id, tmp), 2000, 200, args...)
			r.WaitScreen(1)
			for i := 2; i <= k; i++ {
				r.Press("n")
				r.WaitScreen(i)
			}
			fp := takeFootprint(t, r.Pid(), reportedPIDs(stops[k-1]), bases)
			want := row.holds
			if len(fp.Procs) < want.procs {
				t.Errorf("saw %d processes at stop %d, want at least %d: %v", len(fp.Procs), k, want.procs, fp.Procs)
			}
			if want.tempDir && len(fp.Dirs) == 0 {
				t.Errorf("saw no temporary directory at stop %d", k)
			}
			if want.unixSock && len(fp.UnixPaths) == 0 {
				t.Errorf("saw no Unix socket at stop %d", k)
			}
			if want.tcp && len(fp.TCPListen) == 0 {
				t.Errorf("saw no TCP listen socket at stop %d", k)
			}
			if want.sysvShm && len(fp.SysVShm) == 0 {
				t.Errorf("saw no System V segment at stop %d", k)
			}
			t.Logf("stop %d: %d processes, dirs %v, unix %v, tcp %v, sysv %v, posix shm %v",
				k, len(fp.Procs), fp.Dirs, fp.UnixPaths, fp.TCPListen, fp.SysVShm, fp.PosixShm)
			r.Press("q")
			if code := r.Wait(); code != 0 {
				t.Errorf("q: exit %d; stderr:\n%s", code, r.Stderr())
			}
			checkLeftBehind(t, fp, r.Pid(), id, bases)
			checkEmpty(t, tmp)
		})
	}
}

// recorder collects the errors a check reports instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

// TestChecksCanFail plants one of everything the harness looks for (a
// process with the run's environment, a marked temporary directory, a
// bound Unix socket, a System V segment, a /dev/shm file, a TCP listener
// on every interface) and checks that each is reported; then removes them
// and checks that nothing is.
func TestChecksCanFail(t *testing.T) {
	base := t.TempDir()
	bases := tempBases(base)
	id := fmt.Sprintf("selfcheck-%d", os.Getpid())

	sleeper := exec.Command("sleep", "60")
	sleeper.Env = baseEnv(id, "")
	if err := sleeper.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	p, err := readProc(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tmpdir.MakeIn(base, tmpdir.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, ".s.PGSQL.1")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Skipf("no System V shared memory here: %v", err)
	}
	defer unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)
	posix := filepath.Join("/dev/shm", "e2e-selfcheck-"+id)
	if err := os.WriteFile(posix, nil, 0o600); err != nil {
		t.Skip(err)
	}
	defer os.Remove(posix)
	anyLn, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer anyLn.Close()

	fp := takeFootprint(t, os.Getpid(), nil, bases)
	fp.Procs = append(fp.Procs, p)
	fp.PosixShm = append(fp.PosixShm, posix)
	if !fp.Dirs[dir] {
		t.Errorf("footprint misses %s: %v", dir, fp.Dirs)
	}
	if !strings.Contains(strings.Join(fp.UnixPaths, " "), sock) {
		t.Errorf("footprint misses the socket %s: %v", sock, fp.UnixPaths)
	}
	found := false
	for _, s := range fp.SysVShm {
		found = found || s.ID == shmid
	}
	if !found {
		t.Errorf("footprint misses segment %d: %v", shmid, fp.SysVShm)
	}

	rec := &recorder{TB: t}
	checkLeftBehind(rec, fp, os.Getpid(), id, bases)
	checkLoopback(rec, fp)
	got := strings.Join(rec.msgs, "\n")
	for _, want := range []string{
		fmt.Sprintf("process pid %d", p.PID),
		"with the run's environment",
		"temporary directory " + dir,
		"its marker names pgwalk pid",
		"socket file " + sock,
		"socket inode",
		fmt.Sprintf("segment id %d", shmid),
		"POSIX shared memory " + posix,
		"not on the loopback interface only",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("not reported: %q; reported:\n%s", want, got)
		}
	}

	// Take everything away: the same checks must then be silent about
	// what was planted.
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	ln.Close()
	anyLn.Close()
	os.RemoveAll(dir)
	unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)
	os.Remove(posix)
	fp.Procs = []procInfo{p}
	fp.TCPListen = nil
	rec = &recorder{TB: t}
	checkLeftBehind(rec, fp, os.Getpid(), id, bases)
	for _, m := range rec.msgs {
		// The test process itself still runs and holds its own sockets.
		if strings.Contains(m, "socket inode") {
			continue
		}
		t.Errorf("reported after the cleanup: %s", m)
	}
}
