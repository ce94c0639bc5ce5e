package cli

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// clientProcess returns the program name and the user of process pid (a
// client that connected over the Unix socket), "" for what /proc does not
// say.
func clientProcess(pid int) (program, userName string) {
	dir := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(dir + "/comm"); err == nil {
		program = strings.TrimSpace(string(b))
	}
	if fi, err := os.Stat(dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid := strconv.FormatUint(uint64(st.Uid), 10)
			userName = uid
			if u, err := user.LookupId(uid); err == nil {
				userName = u.Username
			}
		}
	}
	return program, userName
}
