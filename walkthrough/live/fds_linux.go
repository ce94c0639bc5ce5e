package live

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file reads a process's descriptors from /proc and names them with
// the vocabulary's kinds.

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

// ownFDs lists the descriptors of child that the postmaster's table pm
// did not hold at the fork; "" when pm is unknown or all were inherited.
func ownFDs(child []walkthrough.FD, pm []rawFD) string {
	if pm == nil {
		return ""
	}
	had := map[string]bool{}
	for _, fd := range pm {
		had[strconv.Itoa(fd.Num)+" "+fd.Target] = true
	}
	var out []string
	for _, fd := range child {
		if !had[strconv.Itoa(fd.Num)+" "+fd.Target] {
			out = append(out, fmt.Sprintf("%d (%s)", fd.Num, fd.Kind))
		}
	}
	return strings.Join(out, ", ")
}
