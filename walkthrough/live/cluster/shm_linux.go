package cluster

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ShmExists reports whether the System V segment id still exists with
// the cluster's key.
func ShmExists(id, key int) (bool, int, error) {
	if id <= 0 {
		return false, 0, nil
	}
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			return false, 0, nil
		}
		return false, 0, err
	}
	if key != 0 && int(ds.Perm.Key) != key {
		return false, 0, nil // the id was reused by someone else
	}
	return true, int(ds.Nattch), nil
}

// RemoveShm makes sure the cluster's System V segment is gone: a server
// that shut down removed it; one that was killed left it, and nobody is
// attached to it any more.
func RemoveShm(id, key int) error {
	exists, nattch, err := ShmExists(id, key)
	if err != nil || !exists {
		return err
	}
	if nattch > 0 {
		return fmt.Errorf("shared memory segment %d (key %d) still has %d processes attached", id, key, nattch)
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return fmt.Errorf("remove shared memory segment %d: %w", id, err)
	}
	return nil
}

// ProcessesIn returns the pids of every process whose working directory is
// dir or lies below it: every PostgreSQL process of a cluster works in its
// data directory.
func ProcessesIn(dir string) []int {
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
