//go:build unix

package reenact

import (
	"fmt"
	"sort"
	"strconv"
	"syscall"
)

// fdNumbers returns the open fd numbers of this process as listed in dir
// (/proc/self/fd or /dev/fd). It uses raw system calls on purpose: an
// os.File would start Go's network poller, whose epoll fd would then show
// up in the very table being read.
func fdNumbers(dir string) ([]int, error) {
	dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("list fds: open %s: %w", dir, err)
	}
	defer syscall.Close(dfd)
	var nums []int
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(dfd, buf)
		if err != nil {
			return nil, fmt.Errorf("list fds: read %s: %w", dir, err)
		}
		if n <= 0 {
			break
		}
		_, _, names := syscall.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			num, err := strconv.Atoi(name)
			// The directory's own fd shows up in the listing: leave it out.
			if err == nil && num != dfd {
				nums = append(nums, num)
			}
		}
	}
	sort.Ints(nums)
	return nums, nil
}
