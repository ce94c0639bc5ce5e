package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"golang.org/x/sys/unix"
)

// Port names the socket file only: the server listens on no TCP
// port (listen_addresses is empty) and its socket sits in a private
// directory, so every run can use the same number.
const Port = 5432

// The bounds of starting a cluster: initdb runs once per version (the
// template is cached), the start of a copy takes a fraction of a second
// on an idle machine.
const (
	initdbBound = 2 * time.Minute
	readyBound  = time.Minute
)

// Cluster is a throwaway PostgreSQL cluster in a private directory.
type Cluster struct {
	// Bin is the postgres binary that runs (maybe a staged copy), and
	// Version the release it reports.
	Bin     string
	Version string
	// Dir is the private temporary directory that holds everything of the
	// run: the data directory (Data), the socket and the server log (Log).
	Dir  string
	Data string
	Log  string
	// PID is the postmaster's pid.
	PID int
	// ShmKey and ShmID name the cluster's System V shared memory segment,
	// as recorded in postmaster.pid.
	ShmKey int
	ShmID  int
	// cred runs the server as an unprivileged user when pgwalk is root.
	cred *syscall.Credential
	// conf holds extra server settings, "name=value".
	conf []string
	// reaped is set once the postmaster's exit status was collected.
	reaped bool
}

// Start copies the template of version into a new private directory and
// starts the server bin there, untraced, as the user of cred (nil:
// pgwalk's own), with the extra settings conf ("name=value"), waiting
// until it accepts connections. Its first connection is the caller's.
func Start(ctx context.Context, bin, version string, cred *syscall.Credential, conf []string) (c *Cluster, err error) {
	template, err := clusterTemplate(ctx, bin, version, cred)
	if err != nil {
		return nil, err
	}
	// The directory carries pgwalk's owner marker (tmpdir), so that a
	// later run can tell a killed run's directory from a live one; it is
	// handed to the server's account below, the marker stays ours.
	dir, err := tmpdir.MakeIn(ScratchDir(), RunPrefix)
	if err != nil {
		return nil, err
	}
	c = &Cluster{Bin: bin, Version: version, cred: cred, conf: conf, Dir: dir, Data: filepath.Join(dir, "data"), Log: filepath.Join(dir, "postmaster.log")}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return c, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return c, err
		}
	}
	if err := os.Mkdir(c.Data, 0o700); err != nil {
		return c, err
	}
	if err := CopyTree(template, c.Data, cred); err != nil {
		return c, fmt.Errorf("copy the cluster template: %w", err)
	}
	if err := c.launch(); err != nil {
		return c, err
	}
	return c, c.waitReady(ctx)
}

// launch starts the postmaster. It is started with fork+exec directly, not
// os/exec, because the driver reaps it with its own wait4 calls once it is
// traced.
func (c *Cluster) launch() error {
	logf, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if c.cred != nil {
		if err := logf.Chown(int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	markInheritedCloseOnExec()
	args := []string{c.Bin,
		"-D", c.Data,
		"-k", c.Dir,
		"-p", strconv.Itoa(Port),
		"-c", "listen_addresses=",
		// The server's timers run while a process is stopped at a pause.
		"-c", "authentication_timeout=600s",
		// DEBUG2 shows the "forked new backend" line.
		"-c", "log_min_messages=debug2",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
		"-c", "fsync=off",
		"-c", "max_connections=20",
		// Dynamic shared memory as files in the data directory, so that
		// nothing of a killed run outlives its directory in /dev/shm.
		"-c", "dynamic_shared_memory_type=mmap",
	}
	for _, kv := range c.conf {
		args = append(args, "-c", kv)
	}
	pid, err := syscall.ForkExec(c.Bin, args, &syscall.ProcAttr{
		Dir:   c.Dir,
		Env:   serverEnv(),
		Files: []uintptr{devnull.Fd(), logf.Fd(), logf.Fd()},
		// Setpgid keeps a Ctrl-C in pgwalk's terminal away from the
		// server; stopping it is the driver's job.
		Sys: &syscall.SysProcAttr{Setpgid: true, Credential: c.cred},
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", c.Bin, err)
	}
	c.PID = pid
	return nil
}

// waitReady waits until postmaster.pid says "ready".
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyBound)
	pidfile := filepath.Join(c.Data, "postmaster.pid")
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if lines, err := readLines(pidfile); err == nil && len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
			if f := strings.Fields(lines[6]); len(f) == 2 {
				c.ShmKey, _ = strconv.Atoi(f[0])
				c.ShmID, _ = strconv.Atoi(f[1])
			}
			return nil
		}
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(c.PID, &ws, unix.WNOHANG, nil); pid == c.PID {
			c.reaped = true
			return fmt.Errorf("postgres exited at start (%s): %s", exitString(ws), c.LogTail(20))
		}
		if time.Now().After(deadline) {
			return &StageTimeoutError{Stage: "starting the cluster", Expected: `postmaster.pid to say "ready"`, After: readyBound,
				Cause: "the machine is overloaded, or the server is stuck (its log ends: " + strings.Join(LastLines(c.LogTail(3)), " | ") + ")",
				Try:   "again, or --driver reenact, which needs no PostgreSQL server"}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\n"), nil
}

// LogTail returns the last n lines of the server log.
func (c *Cluster) LogTail(n int) string {
	lines, err := readLines(c.Log)
	if err != nil {
		return "(no server log)"
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// LogLinesFrom returns the complete lines of the server log after byte
// off and the offset after them.
func (c *Cluster) LogLinesFrom(off int64) ([]string, int64) {
	f, err := os.Open(c.Log)
	if err != nil {
		return nil, off
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off
	}
	var out []string
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		off += int64(len(line))
		out = append(out, strings.TrimRight(line, "\n"))
	}
	return out, off
}

// LogSize returns the current size of the server log.
func (c *Cluster) LogSize() int64 {
	st, err := os.Stat(c.Log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// stop shuts the server down at once (SIGQUIT: immediate shutdown, which
// still removes the shared memory), kills whatever of the cluster is
// left, checks the System V segment is gone and removes the directory.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.PID > 0 && !c.reaped {
		_ = unix.Kill(c.PID, unix.SIGQUIT)
		if !c.reap(15 * time.Second) {
			_ = unix.Kill(c.PID, unix.SIGKILL)
			c.reap(5 * time.Second)
		}
	}
	if c.Data != "" {
		for i := 0; i < 50; i++ {
			left := ProcessesIn(c.Data)
			if len(left) == 0 {
				break
			}
			if i >= 20 { // give the children a second to follow the postmaster
				for _, pid := range left {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if left := ProcessesIn(c.Data); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes of the cluster still running: %v", left))
		}
	}
	if err := RemoveShm(c.ShmID, c.ShmKey); err != nil {
		errs = append(errs, err)
	}
	if c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reap waits up to d for the postmaster to exit and collects its status.
func (c *Cluster) reap(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(c.PID, &ws, unix.WNOHANG, nil)
		if pid == c.PID || errors.Is(err, unix.ECHILD) {
			c.reaped = true
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exitString says how a process ended.
func exitString(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
