package tmpdir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ownerOf returns the Owner for process pid: its start time from
// /proc/PID/stat and the boot id.
func ownerOf(pid int) (Owner, error) {
	start, err := startTime(pid)
	if err != nil {
		return Owner{}, err
	}
	return Owner{PID: pid, Start: start, Boot: bootID()}, nil
}

// startTime returns field 22 of /proc/PID/stat (starttime: clock ticks
// after boot, proc(5)).
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStartTime(b)
}

// parseStartTime extracts starttime from the content of /proc/PID/stat.
// The second field, the command name in parentheses, may itself hold
// spaces and parentheses: the fields after it start after the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	const idx = 22 - 3
	if len(fields) <= idx {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name", len(fields))
	}
	return strconv.ParseUint(fields[idx], 10, 64)
}

// bootID returns the kernel's boot id, or "".
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func gone(o Owner) bool {
	if o.Boot != "" {
		if now := bootID(); now != "" && now != o.Boot {
			return true
		}
	}
	start, err := startTime(o.PID)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return true
	}
	if err != nil {
		return false
	}
	return start != o.Start
}

func ownedBySelf(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
