//go:build unix

package reenact

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// launcher performs every fork+exec of a driver from one goroutine locked to
// one OS thread. prctl(2) says the parent-death signal is sent when the
// *thread* that created the child ends, not the process; Go may otherwise
// fork from any thread. The thread lives as long as the driver.
type launcher struct {
	reqs chan func()
	done chan struct{}
}

func startLauncher() *launcher {
	l := &launcher{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		runtime.LockOSThread()
		// Never unlocked: when this goroutine returns, Go ends the thread,
		// and on Linux any child still alive gets its parent-death signal.
		for f := range l.reqs {
			f()
		}
	}()
	return l
}

// do runs f on the launcher's thread and returns once it has run.
func (l *launcher) do(f func()) {
	ran := make(chan struct{})
	l.reqs <- func() {
		defer close(ran)
		f()
	}
	<-ran
}

// forkExec runs argv with attr on the launcher's thread.
func (l *launcher) forkExec(argv []string, attr *syscall.ProcAttr) (pid int, err error) {
	l.do(func() { pid, err = syscall.ForkExec(argv[0], argv, attr) })
	return pid, err
}

// stop ends the launcher and waits for it.
func (l *launcher) stop() {
	close(l.reqs)
	<-l.done
}

// pipeCloexec returns a pipe whose ends are closed on exec (syscall.Pipe2
// is not on every Unix).
func pipeCloexec() (r, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, fmt.Errorf("pipe: %w", err)
	}
	return p[0], p[1], nil
}

// socketpairCloexec returns a connected pair of Unix stream sockets, both
// closed on exec.
func socketpairCloexec() (a, b int, err error) {
	syscall.ForkLock.RLock()
	p, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, fmt.Errorf("socketpair: %w", err)
	}
	return p[0], p[1], nil
}

// inode returns the inode number of fd.
func inode(fd int) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	return uint64(st.Ino), nil
}

// withFD calls f with the fd behind c, holding it open meanwhile. Using
// the raw fd keeps its blocking mode untouched (os.File.Fd would switch the
// shared open file description to blocking mode).
func withFD(c syscall.Conn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	b []byte
}

const tailMax = 2048

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

// openDevNull opens /dev/null for a child's standard input.
func openDevNull() (int, error) {
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	return fd, nil
}

// inheritableFDs returns the fds of this process, from min up, that are not
// marked close-on-exec: a child inherits them whatever it is passed.
func inheritableFDs(min int) []int {
	nums, err := fdNumbers(fdDir)
	if err != nil {
		return nil
	}
	var out []int
	for _, n := range nums {
		if n < min {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			out = append(out, n)
		}
	}
	return out
}
