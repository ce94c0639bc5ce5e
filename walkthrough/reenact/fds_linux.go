package reenact

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// fdDir lists the open fds of the calling process.
const fdDir = "/proc/self/fd"

// fdListingKey is the fact that says how the fd table was read.
const fdListingKey = "fact.reenact.fd_listing"

// listFDs returns the open file descriptors of this process, read from
// /proc/self/fd and classified by matching each socket's or pipe's inode
// with the objects the postmaster said it passed.
func listFDs(vars *backendVars) ([]walkthrough.FD, error) {
	nums, err := fdNumbers(fdDir)
	if err != nil {
		return nil, err
	}
	fds := make([]walkthrough.FD, 0, len(nums))
	for _, n := range nums {
		target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(n))
		if err != nil {
			// Closed between the listing and the readlink.
			continue
		}
		fds = append(fds, walkthrough.FD{Num: n, Kind: classify(n, target, vars), Target: target})
	}
	return fds, nil
}

// classify names what fd n, pointing at target, is for.
func classify(n int, target string, vars *backendVars) string {
	if n <= 2 {
		return walkthrough.FDStdio
	}
	if ino, ok := inodeOf(target); ok {
		kind, known := vars.Inodes[ino]
		switch {
		case known && kind == inodeDeathPipe:
			// Both ends of a pipe share one inode: the access mode tells
			// them apart.
			fl, err := unix.FcntlInt(uintptr(n), unix.F_GETFL, 0)
			if err == nil && fl&unix.O_ACCMODE == unix.O_WRONLY {
				return walkthrough.FDDeathPipeWrite
			}
			return walkthrough.FDDeathPipeRead
		case known:
			return kind
		}
	}
	if target == "anon_inode:[eventpoll]" {
		return walkthrough.FDEpoll
	}
	return walkthrough.FDOther
}

// inodeOf parses "socket:[123]" or "pipe:[123]".
func inodeOf(target string) (uint64, bool) {
	for _, prefix := range []string{"socket:[", "pipe:["} {
		if rest, ok := strings.CutPrefix(target, prefix); ok {
			ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			return ino, err == nil
		}
	}
	return 0, false
}
