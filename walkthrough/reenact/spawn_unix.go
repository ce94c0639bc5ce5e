//go:build unix

package reenact

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// launch starts the child for c: fork+exec of pgwalk's own binary with the
// client socket, both listen sockets, both ends of the death pipe and a
// control channel.
func (d *Driver) launch(c *conn) error {
	ctlParent, ctlChild, err := socketpairCloexec()
	if err != nil {
		return err
	}
	defer syscall.Close(ctlChild)
	keepParent := false
	defer func() {
		if !keepParent {
			syscall.Close(ctlParent)
		}
	}()
	errR, errW, err := pipeCloexec()
	if err != nil {
		return err
	}
	defer syscall.Close(errW)
	keepErrR := false
	defer func() {
		if !keepErrR {
			syscall.Close(errR)
		}
	}()
	devNull, err := openDevNull()
	if err != nil {
		return err
	}
	defer syscall.Close(devNull)

	argv := []string{d.exe, ChildCommand,
		"-version", d.fl.version,
		"-steps", strings.Join(d.fl.childSteps(), ","),
		"-listen", fmt.Sprintf("%d,%d", childFDTCP, childFDUnix),
		"-death-read", strconv.Itoa(childFDDeathRead),
		"-death-write", strconv.Itoa(childFDDeathWrite),
		"-client", strconv.Itoa(childFDClient),
		"-control", strconv.Itoa(childFDControl),
	}
	inodes := map[uint64]string{}
	var pid int
	err = withFD(d.tcpLn, func(tcpFD int) error {
		return withFD(d.unixLn, func(unixFD int) error {
			return withFD(c.nc.(syscall.Conn), func(clientFD int) error {
				for fd, kind := range map[int]string{
					tcpFD: walkthrough.FDListenSocket, unixFD: walkthrough.FDListenSocket,
					d.death[0]: inodeDeathPipe, clientFD: walkthrough.FDClientSocket,
					ctlChild: walkthrough.FDDriverChannel,
				} {
					ino, err := inode(fd)
					if err != nil {
						return err
					}
					inodes[ino] = kind
				}
				files := []uintptr{uintptr(devNull), uintptr(errW), uintptr(errW),
					uintptr(tcpFD), uintptr(unixFD), uintptr(d.death[0]), uintptr(d.death[1]),
					uintptr(clientFD), uintptr(ctlChild)}
				sys := childSysProcAttr()
				d.limit.apply(sys)
				var err error
				pid, err = d.launcher.forkExec(argv, &syscall.ProcAttr{
					Env:   os.Environ(),
					Files: files,
					Sys:   sys,
				})
				return err
			})
		})
	})
	if err != nil {
		return err
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		// Cannot happen on Unix; keep the error rather than lose the child.
		return fmt.Errorf("reenact: find child %d: %w", pid, err)
	}

	if err := syscall.SetNonblock(ctlParent, true); err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: control channel: %w", err)
	}
	f := os.NewFile(uintptr(ctlParent), "pgwalk control channel")
	keepParent = true
	ctl, err := net.FileConn(f)
	f.Close()
	if err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: control channel: %w", err)
	}
	if err := syscall.SetNonblock(errR, true); err != nil {
		ctl.Close()
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: child stderr: %w", err)
	}
	errFile := os.NewFile(uintptr(errR), "child stderr")
	keepErrR = true

	// processCancel reads pid and proc from other goroutines.
	d.mu.Lock()
	c.pid = pid
	c.proc = proc
	d.mu.Unlock()
	c.ctl = ctl
	c.ctlW = &ctlWriter{w: ctl}
	c.reports = make(chan fromChild, 1)
	c.readerDone = make(chan struct{})
	c.exited = make(chan struct{})
	c.stderrDone = make(chan struct{})

	d.wg.Add(3)
	go d.waitChild(c)
	go d.readControl(c)
	go func() {
		defer d.wg.Done()
		defer close(c.stderrDone)
		defer errFile.Close()
		buf := make([]byte, 512)
		for {
			n, err := errFile.Read(buf)
			c.stderr.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()

	roles := map[int]string{
		childFDTCP: walkthrough.FDListenSocket, childFDUnix: walkthrough.FDListenSocket,
		childFDDeathRead: walkthrough.FDDeathPipeRead, childFDDeathWrite: walkthrough.FDDeathPipeWrite,
		childFDClient: walkthrough.FDClientSocket, childFDControl: walkthrough.FDDriverChannel,
	}
	// A forked child has a copy of BackendList as it was at the fork, and
	// processCancelRequest searches that copy: the exec'd child cannot
	// inherit memory, so it is sent a snapshot of the list taken now, with
	// the other variables. (An EXEC_BACKEND build does not copy the list:
	// its children search ShmemBackendArray, which lives in shared memory
	// and which the postmaster keeps current; the snapshot follows the
	// fork build, the one the notes describe.)
	vars := &backendVars{
		Version: d.fl.version, PostmasterPID: os.Getpid(),
		CancelKey: c.node.CancelKey, ChildSlot: c.node.ChildSlot,
		CanAccept: c.canAccept, DeadEnd: c.node.DeadEnd,
		Wire:  d.fl.wire,
		Roles: roles, Inodes: inodes, Inherited: inheritableFDs(childFDControl + 1),
	}
	if d.keys != nil {
		// The shared key table: the child maps it, as a backend is
		// attached to the postmaster's shared memory.
		vars.KeysPath, vars.KeyRows = d.keysPath, d.keys.rows
	} else {
		d.mu.Lock()
		vars.BackendList = d.backendListSnapshot()
		d.mu.Unlock()
		c.listAtLaunch = len(vars.BackendList)
	}
	// Like internal_forkexec's backend_var file, the variables are written
	// before the child needs them; it reads them on its own.
	if err := c.ctlW.send(toChild{Type: msgVars, Vars: vars}); err != nil {
		// The child is gone already; the next stop reports how it ended.
		return nil
	}
	return nil
}

// waitChild reaps c's process, as the postmaster's reaper does.
func (d *Driver) waitChild(c *conn) {
	defer d.wg.Done()
	awaitExit(c.pid) // never sleep in wait(2): see awaitExit
	st, err := c.proc.Wait()
	if err == nil {
		c.exitState = st
	}
	close(c.exited)
	select {
	case d.exits <- c:
	case <-d.stop:
	}
}

// readControl handles what c's child sends until its channel ends.
func (d *Driver) readControl(c *conn) {
	defer d.wg.Done()
	defer close(c.readerDone)
	r := newCtlReader(c.ctl)
	for {
		var m fromChild
		if err := r.recv(&m); err != nil {
			return
		}
		switch m.Type {
		case msgChildStop:
			select {
			case c.reports <- m:
			case <-d.stop:
				return
			}
		case msgStartup:
			d.mu.Lock()
			c.startup = &m
			d.mu.Unlock()
		case msgCancel:
			// The child read a CancelRequest, searched its copy of
			// BackendList and, on a match, signalled the backend
			// itself: the postmaster only hears about it.
			d.mu.Lock()
			c.cancel = &m
			if m.Text != "" {
				c.logs = append(c.logs, m.Text)
			}
			d.mu.Unlock()
		case msgSignal:
			d.mu.Lock()
			c.signals = append(c.signals, m.Facts...)
			d.mu.Unlock()
			if d.signalSeen != nil {
				select {
				case d.signalSeen <- c.pid:
				default:
				}
			}
		case msgRunning:
			if d.queryRunning != nil {
				select {
				case d.queryRunning <- c.pid:
				default:
				}
			}
		case msgError:
			d.mu.Lock()
			c.errs = append(c.errs, m.Text)
			d.mu.Unlock()
		case msgQuery:
			// A query the backend ran comes with what became of it; one
			// it refused, with nothing.
			facts := m.Facts
			if len(facts) == 0 {
				facts = []walkthrough.Fact{fact("fact.reenact.query_refused", "query", m.Text)}
			}
			d.mu.Lock()
			c.queries = append(c.queries, facts...)
			if m.Log != "" {
				c.logs = append(c.logs, m.Log)
			}
			d.mu.Unlock()
		}
	}
}

// childGone describes a child that ended before its stop.
func (d *Driver) childGone(c *conn, cause error) error {
	<-c.exited
	<-c.stderrDone
	status := "unknown status"
	if c.exitState != nil {
		status = c.exitState.String()
	}
	if cause != nil {
		status += " (" + cause.Error() + ")"
	}
	return &ChildExitedError{PID: c.pid, Status: status, Stderr: strings.TrimSpace(string(c.stderr.b))}
}
