package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// readMem fills buf from the memory of pid at addr. It uses
// process_vm_readv, which needs the same permission as ptrace, and falls
// back to PTRACE_PEEKDATA where that is refused.
func readMem(pid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err == nil && n == len(buf) {
		return nil
	}
	m, perr := unix.PtracePeekData(pid, uintptr(addr), buf)
	if perr != nil {
		return fmt.Errorf("read %d bytes at %#x in pid %d: %w", len(buf), addr, pid, perr)
	}
	if m != len(buf) {
		return fmt.Errorf("read %d bytes at %#x in pid %d: short read (%d)", len(buf), addr, pid, m)
	}
	return nil
}

// writeMem writes buf into the memory of the stopped tracee pid at addr.
// PTRACE_POKEDATA writes through the tracee's page protection (text pages
// are copied on write, so a child's write never reaches its parent).
func writeMem(pid int, addr uint64, buf []byte) error {
	n, err := unix.PtracePokeData(pid, uintptr(addr), buf)
	if err != nil {
		return fmt.Errorf("write %d bytes at %#x in pid %d: %w", len(buf), addr, pid, err)
	}
	if n != len(buf) {
		return fmt.Errorf("write %d bytes at %#x in pid %d: short write (%d)", len(buf), addr, pid, n)
	}
	return nil
}

func readU64(pid int, addr uint64) (uint64, error) {
	var b [8]byte
	err := readMem(pid, addr, b[:])
	return binary.LittleEndian.Uint64(b[:]), err
}

func readI32(pid int, addr uint64) (int32, error) {
	var b [4]byte
	err := readMem(pid, addr, b[:])
	return int32(binary.LittleEndian.Uint32(b[:])), err
}

// mapping is one line of /proc/PID/maps.
type mapping struct {
	Start, End, Offset uint64
	Perms              string
	Path               string
}

// parseMaps parses the text of /proc/PID/maps.
func parseMaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// address perms offset dev inode pathname
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: bad range %q", f[0])
		}
		var m mapping
		var err error
		if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
			return nil, fmt.Errorf("maps: %w", err)
		}
		if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
			return nil, fmt.Errorf("maps: %w", err)
		}
		if m.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
			return nil, fmt.Errorf("maps: %w", err)
		}
		m.Perms = f[1]
		if len(f) >= 6 {
			m.Path = strings.Join(f[5:], " ")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMaps(f)
}

// unixSocket is one line of /proc/net/unix.
type unixSocket struct {
	Inode uint64
	// Listening is set for a socket that accepts connections
	// (__SO_ACCEPTCON in the flags column).
	Listening bool
	Path      string
}

// parseNetUnix parses /proc/net/unix into a map by inode.
func parseNetUnix(r io.Reader) (map[uint64]unixSocket, error) {
	const soAcceptCon = 0x10000
	out := map[uint64]unixSocket{}
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 64)
		if err != nil {
			continue
		}
		ino, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			continue
		}
		s := unixSocket{Inode: ino, Listening: flags&soAcceptCon != 0}
		if len(f) >= 8 {
			s.Path = f[7]
		}
		out[ino] = s
	}
	return out, sc.Err()
}

// rawFD is one entry of /proc/PID/fd.
type rawFD struct {
	Num    int
	Target string
}

// readFDs lists the open descriptors of pid, lowest first.
func readFDs(pid int) ([]rawFD, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []rawFD
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, rawFD{Num: n, Target: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}

// fdNamer names a process's descriptors with the vocabulary's kinds.
type fdNamer struct {
	sockets map[uint64]unixSocket
	// deathRead and deathWrite are the two ends of the postmaster-death
	// pipe as postmaster_alive_fds holds them (-1 when unknown).
	deathRead, deathWrite int
	// syslogRead is the read end of the syslogger pipe (-1 when unused).
	syslogRead int
}

// socketInode returns the inode of a "socket:[123]" link target.
func socketInode(target string) (uint64, bool) {
	s, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// name returns the kind of one descriptor.
func (n fdNamer) name(fd rawFD) string {
	switch {
	case fd.Num <= 2:
		return walkthrough.FDStdio
	case fd.Num == n.deathRead && strings.HasPrefix(fd.Target, "pipe:"):
		return walkthrough.FDDeathPipeRead
	case fd.Num == n.deathWrite && strings.HasPrefix(fd.Target, "pipe:"):
		return walkthrough.FDDeathPipeWrite
	case fd.Num == n.syslogRead && strings.HasPrefix(fd.Target, "pipe:"):
		return walkthrough.FDSyslogPipe
	case fd.Target == "anon_inode:[eventpoll]":
		return walkthrough.FDEpoll
	}
	if ino, ok := socketInode(fd.Target); ok {
		if s, known := n.sockets[ino]; known {
			if s.Listening {
				return walkthrough.FDListenSocket
			}
			return walkthrough.FDClientSocket
		}
		return walkthrough.FDOther
	}
	if strings.HasPrefix(fd.Target, "/") {
		return walkthrough.FDPostmasterOther
	}
	return walkthrough.FDOther
}

// table names every descriptor of fds.
func (n fdNamer) table(fds []rawFD) []walkthrough.FD {
	out := make([]walkthrough.FD, len(fds))
	for i, fd := range fds {
		out[i] = walkthrough.FD{Num: fd.Num, Kind: n.name(fd), Target: fd.Target}
	}
	return out
}

// closedFDs returns the descriptors of before that after no longer holds
// (same number and same target).
func closedFDs(before, after []walkthrough.FD) []walkthrough.FD {
	still := map[string]bool{}
	for _, fd := range after {
		still[strconv.Itoa(fd.Num)+" "+fd.Target] = true
	}
	var out []walkthrough.FD
	for _, fd := range before {
		if !still[strconv.Itoa(fd.Num)+" "+fd.Target] {
			out = append(out, fd)
		}
	}
	return out
}

// processesIn returns the pids of every process whose working directory is
// dir or lies below it: every PostgreSQL process of a cluster works in its
// data directory.
func processesIn(dir string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil {
			continue
		}
		cwd = strings.TrimSuffix(cwd, " (deleted)")
		if cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}
