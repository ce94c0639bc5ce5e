//go:build linux

package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
)

// procInfo is what /proc/PID/stat says about a process.
type procInfo struct {
	PID, PPID, PGID, SID int
	State                byte
	// Start is field 22, the start time in clock ticks after boot: with
	// the pid it names one process even if the pid is reused.
	Start uint64
	Comm  string
}

func (p procInfo) String() string {
	return fmt.Sprintf("pid %d (%s, state %c, parent %d, session %d)", p.PID, p.Comm, p.State, p.PPID, p.SID)
}

// readProc reads /proc/PID/stat.
func readProc(pid int) (procInfo, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	p := procInfo{PID: pid, State: f[0][0], Comm: string(b[open+1 : end])}
	p.PPID, _ = strconv.Atoi(f[1])
	p.PGID, _ = strconv.Atoi(f[2])
	p.SID, _ = strconv.Atoi(f[3])
	p.Start, _ = strconv.ParseUint(f[19], 10, 64)
	return p, nil
}

// allProcs returns every process of the system.
func allProcs() map[int]procInfo {
	ents, _ := os.ReadDir("/proc")
	out := make(map[int]procInfo, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil {
			out[pid] = p
		}
	}
	return out
}

// family returns roots and every process below them (by parent pid, or
// by session or process group led by one of them: a child that called
// setsid is still its parent's child), roots first.
func family(procs map[int]procInfo, roots ...int) []procInfo {
	in := map[int]bool{}
	var out []procInfo
	add := func(pid int) bool {
		p, ok := procs[pid]
		if !ok || in[pid] {
			return false
		}
		in[pid] = true
		out = append(out, p)
		return true
	}
	for _, r := range roots {
		add(r)
	}
	for changed := true; changed; {
		changed = false
		for pid, p := range procs {
			if !in[pid] && (in[p.PPID] || in[p.SID] || in[p.PGID]) {
				changed = add(pid) || changed
			}
		}
	}
	return out
}

// alive reports whether the process p is still there (same pid, same
// start time) and not a zombie. A zombie has ended; only its exit status
// waits for its parent.
func alive(p procInfo) (procInfo, bool) {
	cur, err := readProc(p.PID)
	if err != nil || cur.Start != p.Start {
		return cur, false
	}
	return cur, cur.State != 'Z'
}

// footprint is what a run holds at a stop: its processes and everything
// they have open that could outlive them.
type footprint struct {
	Procs []procInfo
	// Dirs are the temporary directories the run's processes work in
	// (their cwd, an open file, a socket or a mapping lies inside).
	Dirs map[string]bool
	// UnixPaths are the paths of the Unix sockets the run bound.
	UnixPaths []string
	// Sockets are the inodes of every socket the run's processes hold.
	Sockets map[uint64]bool
	// TCPListen are the addresses the run listens on over TCP.
	TCPListen []string
	// SysVShm are the System V segments the run's processes created.
	SysVShm []sysvShm
	// PosixShm are the files of /dev/shm the run holds or maps.
	PosixShm []string
}

// tempBases are the directories where pgwalk's temporary directories
// live: the system's temporary directory and /dev/shm (the live driver's
// clusters), plus extra.
func tempBases(extra ...string) []string {
	bases := append([]string{os.TempDir(), "/dev/shm"}, extra...)
	var out []string
	for _, b := range bases {
		if b == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(b); err == nil {
			b = r
		}
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// keptOnPurpose reports whether a temporary directory is a cache that the
// driver keeps between runs by design: the live driver's copy of the
// PostgreSQL installation that the server's user can reach.
func keptOnPurpose(name string) bool {
	return strings.HasPrefix(name, "pgwalk-pg-")
}

// takeFootprint records what the run of pgwalk pid holds now. reported
// are the pids the run's events named (child_pid, postmaster_pid): each
// that is still running must be one of the run's processes, or the
// harness would miss it.
func takeFootprint(t testing.TB, pid int, reported []int, bases []string) footprint {
	t.Helper()
	procs := allProcs()
	fp := footprint{Dirs: map[string]bool{}, Sockets: map[uint64]bool{}}
	fp.Procs = family(procs, pid)
	if len(fp.Procs) == 0 || fp.Procs[0].PID != pid {
		t.Fatalf("pgwalk (pid %d) is not running at the stop", pid)
	}
	for _, r := range reported {
		if p, ok := procs[r]; ok && p.State != 'Z' && !slices.ContainsFunc(fp.Procs, func(q procInfo) bool { return q.PID == r }) {
			t.Errorf("harness: the run reported pid %d, which runs (%s) but is not below pgwalk", r, p)
		}
	}
	unixByInode := unixSockets()
	tcpByInode := tcpListeners()
	var held []string
	for _, p := range fp.Procs {
		dir := fmt.Sprintf("/proc/%d", p.PID)
		if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
			held = append(held, cwd)
		}
		fds, _ := os.ReadDir(dir + "/fd")
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(target, "socket:["); ok {
				n, _ := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64)
				fp.Sockets[n] = true
				if path := unixByInode[n]; path != "" {
					fp.UnixPaths = append(fp.UnixPaths, path)
					held = append(held, path)
				}
				if addr := tcpByInode[n]; addr != "" {
					fp.TCPListen = append(fp.TCPListen, addr)
				}
				continue
			}
			held = append(held, strings.TrimSuffix(target, " (deleted)"))
		}
		if maps, err := os.ReadFile(dir + "/maps"); err == nil {
			for _, line := range strings.Split(string(maps), "\n") {
				if i := strings.Index(line, " /dev/shm/"); i >= 0 {
					held = append(held, strings.TrimSuffix(strings.TrimSpace(line[i:]), " (deleted)"))
				}
			}
		}
	}
	for _, h := range held {
		for _, b := range bases {
			rel, ok := strings.CutPrefix(h, b+"/")
			if !ok {
				continue
			}
			top, _, _ := strings.Cut(rel, "/")
			switch {
			case b == "/dev/shm" && !strings.HasPrefix(top, "pgwalk-"):
				fp.PosixShm = append(fp.PosixShm, filepath.Join(b, top))
			case strings.HasPrefix(top, "pgwalk-") && !keptOnPurpose(top):
				fp.Dirs[filepath.Join(b, top)] = true
			}
		}
	}
	pids := map[int]bool{}
	for _, p := range fp.Procs {
		pids[p.PID] = true
	}
	for _, s := range sysvSegments() {
		if pids[s.CPID] {
			fp.SysVShm = append(fp.SysVShm, s)
		}
	}
	sort.Strings(fp.UnixPaths)
	fp.UnixPaths = slices.Compact(fp.UnixPaths)
	sort.Strings(fp.TCPListen)
	fp.TCPListen = slices.Compact(fp.TCPListen)
	return fp
}

// markedDirs returns the directories under bases whose pgwalk marker
// names pid as their owner.
func markedDirs(bases []string, pid int) []string {
	var out []string
	for _, b := range bases {
		ents, _ := os.ReadDir(b)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), tmpdir.Prefix) {
				continue
			}
			d := filepath.Join(b, e.Name())
			if o, err := tmpdir.ReadOwner(d); err == nil && o.PID == pid {
				out = append(out, d)
			}
		}
	}
	return out
}

// taggedProcs returns the processes whose environment carries the run's
// tag (runEnvKey=id). PostgreSQL servers get an environment of their own
// and are found through their parents instead.
func taggedProcs(id string) []procInfo {
	tag := []byte(runEnvKey + "=" + id + "\x00")
	var out []procInfo
	for pid, p := range allProcs() {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && bytes.Contains(append(env, 0), tag) && p.State != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// checkLeftBehind fails t for everything of fp that outlived the run.
// pgwalkPID is the run's pgwalk, id its environment tag.
func checkLeftBehind(t testing.TB, fp footprint, pgwalkPID int, id string, bases []string) {
	t.Helper()
	for _, p := range fp.Procs {
		if cur, ok := alive(p); ok {
			t.Errorf("left behind: process %s (at the stop: %s)", cur, p)
		}
	}
	for _, p := range taggedProcs(id) {
		t.Errorf("left behind: process %s with the run's environment", p)
	}
	for d := range fp.Dirs {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("left behind: temporary directory %s", d)
		}
	}
	for _, d := range markedDirs(bases, pgwalkPID) {
		t.Errorf("left behind: temporary directory %s (its marker names pgwalk pid %d)", d, pgwalkPID)
	}
	for _, p := range fp.UnixPaths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("left behind: socket file %s", p)
		}
	}
	now := openSockets()
	for ino := range fp.Sockets {
		if table, ok := now[ino]; ok {
			t.Errorf("left behind: socket inode %d still open (/proc/net/%s)", ino, table)
		}
	}
	segs := sysvSegments()
	for _, old := range fp.SysVShm {
		for _, s := range segs {
			if s.ID == old.ID && s.CPID == old.CPID {
				t.Errorf("left behind: System V shared memory segment id %d key %#x (created by pid %d)", s.ID, s.Key, s.CPID)
			}
		}
	}
	for _, p := range fp.PosixShm {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("left behind: POSIX shared memory %s", p)
		}
	}
}

// unixSockets maps the inode of every named Unix socket to its path, from
// /proc/net/unix (abstract and unnamed sockets are left out).
func unixSockets() map[uint64]string {
	out := map[uint64]string{}
	for ino, f := range procNetTable("/proc/net/unix", 6) {
		if len(f) >= 8 && !strings.HasPrefix(f[7], "@") {
			out[ino] = f[7]
		}
	}
	return out
}

// openSockets returns the inode of every socket the kernel lists (Unix,
// TCP and UDP, IPv4 and IPv6), each with the table it is in.
func openSockets() map[uint64]string {
	out := map[uint64]string{}
	for _, tb := range []struct {
		file  string
		inode int
	}{{"/proc/net/unix", 6}, {"/proc/net/tcp", 9}, {"/proc/net/tcp6", 9}, {"/proc/net/udp", 9}, {"/proc/net/udp6", 9}} {
		for ino := range procNetTable(tb.file, tb.inode) {
			if ino != 0 {
				out[ino] = filepath.Base(tb.file)
			}
		}
	}
	return out
}

// procNetTable reads a table of /proc/net and returns its rows by the
// inode in column col.
func procNetTable(file string, col int) map[uint64][]string {
	out := map[uint64][]string{}
	b, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		if ino, err := strconv.ParseUint(f[col], 10, 64); err == nil {
			out[ino] = f
		}
	}
	return out
}

// tcpListeners maps the inode of every listening TCP socket (IPv4 and
// IPv6) to its local address.
func tcpListeners() map[uint64]string {
	out := map[uint64]string{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for ino, f := range procNetTable(file, 9) {
			if ino != 0 && f[3] == "0A" { // 0A: TCP_LISTEN
				out[ino] = procNetAddr(f[1])
			}
		}
	}
	return out
}

// procNetAddr decodes an address of /proc/net/tcp{,6}: the IP as 32-bit
// words in host byte order (little endian here), then the port in hex.
func procNetAddr(s string) string {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || len(raw)%4 != 0 {
		return s
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, _ := strconv.ParseUint(portHex, 16, 16)
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10))
}

// sysvShm is one line of /proc/sysvipc/shm.
type sysvShm struct {
	Key  int64
	ID   int
	CPID int
}

func sysvSegments() []sysvShm {
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		return nil
	}
	var out []sysvShm
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		var s sysvShm
		s.Key, _ = strconv.ParseInt(f[0], 10, 64)
		s.ID, _ = strconv.Atoi(f[1])
		s.CPID, _ = strconv.Atoi(f[4])
		out = append(out, s)
	}
	return out
}
