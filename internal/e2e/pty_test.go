//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// clearScreen starts every screen an interactive run draws.
const clearScreen = "\x1b[H\x1b[2J"

// footerEnd ends the footer line of every screen.
const footerEnd = "q quit"

// ptyRun is pgwalk running interactively on a pseudo-terminal: its
// standard input and output are the terminal (so it pauses at every stop
// and reads keys), its standard error is a pipe the test reads, so that
// what it says stays readable after the terminal is hung up.
type ptyRun struct {
	t       testing.TB
	cmd     *exec.Cmd
	tty     *os.File
	out     lockedBuffer
	stderr  lockedBuffer
	done    chan struct{}
	closeMu sync.Mutex
	closed  bool
}

// openPTY opens a pseudo-terminal of rows x cols. The master is opened
// non-blocking and stays in Go's poller, so that closing it while a
// goroutine reads it really closes it and hangs the terminal up.
// (creack/pty's Start sets the size through File.Fd, which switches the
// master to blocking mode: a pending Read then keeps it open forever.)
func openPTY(rows, cols uint16) (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(e error) (*os.File, *os.File, error) {
		unix.Close(fd)
		return nil, nil, e
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlockpt: %w", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("ptsname: %w", err))
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		return fail(fmt.Errorf("set the window size: %w", err))
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), slave, nil
}

// startPTY starts pgwalk with args on a rows x cols terminal, as a new
// session whose controlling terminal it is, in the foreground: as a
// shell's job on its own terminal.
func startPTY(t testing.TB, env []string, rows, cols uint16, args ...string) *ptyRun {
	t.Helper()
	master, slave, err := openPTY(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pgwalkBinary(t), args...)
	cmd.Env = append(env, "TERM=xterm")
	r := &ptyRun{t: t, cmd: cmd, tty: master, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &r.stderr
	// Pdeathsig: if the test binary dies (a timeout), pgwalk goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := master.Read(b)
			r.out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill()
			<-r.done
		}
		r.hangup()
	})
	return r
}

func (r *ptyRun) pid() int { return r.cmd.Process.Pid }

// screens returns the screens drawn so far; the last one may be partial.
func (r *ptyRun) screens() []string {
	s := strings.Split(r.out.String(), clearScreen)
	return s[1:]
}

// waitScreen waits until screen n (from 1) is drawn completely.
func (r *ptyRun) waitScreen(n int) string {
	r.t.Helper()
	return r.waitScreenEnd(n, footerEnd)
}

// waitScreenEnd waits until screen n (from 1) holds end, the last thing
// drawn on it.
func (r *ptyRun) waitScreenEnd(n int, end string) string {
	r.t.Helper()
	deadline := time.Now().Add(safety)
	for {
		s := r.screens()
		if len(s) > n || (len(s) == n && strings.Contains(s[n-1], end)) {
			return s[n-1]
		}
		select {
		case <-r.done:
			r.t.Fatalf("pgwalk ended before screen %d; stderr:\n%s\nterminal:\n%s", n, r.stderr.String(), r.tail())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("screen %d never came; stderr:\n%s\nterminal:\n%s", n, r.stderr.String(), r.tail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tail returns the end of the terminal output, for failure messages.
func (r *ptyRun) tail() string {
	s := r.out.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// press types keys on the terminal.
func (r *ptyRun) press(keys string) {
	r.t.Helper()
	if _, err := r.tty.Write([]byte(keys)); err != nil {
		r.t.Fatal(err)
	}
}

// hangup closes the terminal's master side: the kernel hangs up the
// terminal and sends SIGHUP to its session, as when a terminal window is
// closed.
func (r *ptyRun) hangup() {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if !r.closed {
		r.closed = true
		r.tty.Close()
	}
}

// wait waits for pgwalk to exit and returns its exit code (-1 when a
// signal ended it).
func (r *ptyRun) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(safety):
		_ = r.cmd.Process.Kill()
		<-r.done
		r.t.Fatalf("pgwalk did not exit; stderr:\n%s\nterminal:\n%s", r.stderr.String(), r.tail())
	}
	return r.cmd.ProcessState.ExitCode()
}

// text returns what pgwalk wrote to the terminal, escapes removed.
func (r *ptyRun) text() string {
	var b bytes.Buffer
	s := r.out.String()
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			j := i + 1
			if j < len(s) && s[j] == '[' {
				j++
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
