//go:build unix && !linux

package tmpdir

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// ownerOf returns the Owner for process pid. Outside Linux pgwalk does not
// read start times: a reused pid keeps its directory until that process
// ends too.
func ownerOf(pid int) (Owner, error) {
	return Owner{PID: pid}, nil
}

func gone(o Owner) bool {
	return errors.Is(syscall.Kill(o.PID, 0), syscall.ESRCH)
}

func ownedBySelf(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
