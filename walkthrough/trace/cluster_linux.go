package trace

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// clusterPort names the socket file only: the server listens on no TCP
// port (listen_addresses is empty) and its socket sits in a private
// directory, so every run can use the same number.
const clusterPort = 5432

// The bounds of starting a cluster: initdb runs once per version (the
// template is cached), the start of a copy takes a fraction of a second
// on an idle machine.
const (
	initdbBound = 2 * time.Minute
	readyBound  = time.Minute
)

// cluster is a throwaway PostgreSQL cluster in a private directory.
type cluster struct {
	bin     string // the postgres binary that runs (maybe a staged copy)
	version string
	// cred runs the server as an unprivileged user when pgwalk is root.
	cred *syscall.Credential
	// conf holds extra server settings, "name=value".
	conf []string
	dir  string // private temporary directory
	data string
	log  string
	pid  int
	// reaped is set once the postmaster's exit status was collected.
	reaped bool
	shmKey int
	shmID  int
}

// cacheBase returns pgwalk's cache directory: $PGWALK_CACHE, else
// <user cache dir>/pgwalk.
func cacheBase() (string, error) {
	if d := os.Getenv("PGWALK_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "pgwalk"), nil
}

// serverCredential returns the user the server runs as: nil (pgwalk's own)
// unless pgwalk runs as root, which PostgreSQL refuses; then the
// "postgres" account, or the one PGWALK_PG_USER names.
func serverCredential() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	name := os.Getenv("PGWALK_PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("pgwalk runs as root and PostgreSQL refuses to: it needs an unprivileged account to run the server as (%q: %w); create one or set PGWALK_PG_USER", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, "", fmt.Errorf("account %q cannot run PostgreSQL (uid %s)", name, u.Uid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, name, nil
}

// permitted reports whether the user of cred has permission bit (1
// execute/search, 4 read) on path, by its owner, group and other bits.
func permitted(path string, cred *syscall.Credential, bit uint32) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	switch {
	case st.Uid == cred.Uid:
		return st.Mode&(bit<<6) != 0
	case st.Gid == cred.Gid:
		return st.Mode&(bit<<3) != 0
	}
	return st.Mode&bit != 0
}

// searchable reports whether the user of cred may search dir and every
// directory above it.
func searchable(dir string, cred *syscall.Credential) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for d := abs; ; d = filepath.Dir(d) {
		if !permitted(d, cred, 1) {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// reachable reports whether the user of cred (nil: pgwalk's own) may
// execute path.
func reachable(path string, cred *syscall.Credential) bool {
	if cred == nil {
		return true
	}
	return searchable(filepath.Dir(path), cred) && permitted(path, cred, 1)
}

// stageInstall returns a postgres binary the user of cred can run. When
// bin lies where that user cannot reach (an installation under root's home
// directory), the whole installation (bin's parent: bin, lib, share) is
// copied once into a root-owned, world-readable directory under the system
// temporary directory and reused by later runs.
func stageInstall(bin string, cred *syscall.Credential) (string, error) {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", err
	}
	if reachable(real, cred) {
		return real, nil
	}
	root := filepath.Dir(filepath.Dir(real))
	st, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d", real, st.Size(), st.ModTime().UnixNano())))
	base := ""
	for _, d := range []string{os.TempDir(), "/var/tmp", "/tmp"} {
		if searchable(d, cred) {
			base = d
			break
		}
	}
	if base == "" {
		return "", fmt.Errorf("%s is out of reach of uid %d, and no temporary directory is in reach to copy it to", real, cred.Uid)
	}
	parent := filepath.Join(base, fmt.Sprintf("pgwalk-pg-%d", os.Geteuid()))
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	// Only a directory of our own, that nobody else may write, is safe to
	// run binaries from.
	var pst unix.Stat_t
	if err := unix.Lstat(parent, &pst); err != nil {
		return "", err
	}
	if pst.Uid != uint32(os.Geteuid()) || pst.Mode&unix.S_IFMT != unix.S_IFDIR || pst.Mode&0o022 != 0 {
		return "", fmt.Errorf("%s is not a directory owned by uid %d and closed to others: refusing to stage PostgreSQL there", parent, os.Geteuid())
	}
	dest := filepath.Join(parent, hex.EncodeToString(sum[:8]))
	staged := filepath.Join(dest, filepath.Base(filepath.Dir(real)), filepath.Base(real))
	if _, err := os.Stat(filepath.Join(dest, ".complete")); err == nil {
		return staged, nil
	}
	tmp, err := os.MkdirTemp(parent, ".stage-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := copyTree(root, tmp, nil); err != nil {
		return "", fmt.Errorf("stage %s for user %d: %w", root, cred.Uid, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(real+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(filepath.Join(dest, ".complete")); serr == nil {
			return staged, nil // another run staged it meanwhile
		}
		return "", err
	}
	return staged, nil
}

// copyTree copies the directory src to dst (which exists), keeping modes
// and symbolic links; with cred set it hands every copy to that user.
func copyTree(src, dst string, cred *syscall.Credential) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, to); err != nil {
				return err
			}
			if cred != nil {
				return os.Lchown(to, int(cred.Uid), int(cred.Gid))
			}
			return nil
		case d.IsDir():
			if rel != "." {
				if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
					return err
				}
			}
			if err := os.Chmod(to, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, to, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos: nothing to copy
		}
		if cred != nil {
			return os.Chown(to, int(cred.Uid), int(cred.Gid))
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runAs runs a PostgreSQL program as the user of cred and returns its
// combined output on failure.
func runAs(ctx context.Context, cred *syscall.Credential, dir string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// serverEnv is the environment of the server and initdb: pgwalk's own,
// minus PostgreSQL's client and server variables, in the C locale.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// template returns the cached, initialised data directory for version,
// creating it with initdb on first use.
func clusterTemplate(ctx context.Context, bin, version string, cred *syscall.Credential) (string, error) {
	base, err := cacheBase()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "clusters", version)
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "pgwalk-initdb-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if cred != nil {
		if err := os.Chown(work, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	data := filepath.Join(work, "data")
	initdb := filepath.Join(filepath.Dir(bin), "initdb")
	// One-megabyte WAL segments keep the template (and each copy) small.
	ictx, cancel := context.WithTimeout(ctx, initdbBound)
	defer cancel()
	if err := runAs(ictx, cred, work, initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1", "--no-instructions"); err != nil {
		if ictx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return "", &StageTimeoutError{Stage: "starting the cluster", Expected: "initdb to initialise the cluster template", After: initdbBound,
				Cause: "the machine is overloaded, or its disk is very slow", Try: "again, or --driver reenact, which needs no PostgreSQL server"}
		}
		return "", fmt.Errorf("initialise a cluster template: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".template-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(data, tmp, nil); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "PG_VERSION")); serr == nil {
			return dir, nil // made by another run meanwhile
		}
		return "", err
	}
	return dir, nil
}

// scratchDir returns where a run's cluster lives: $PGWALK_TMPDIR when set,
// else /dev/shm when it is a writable memory file system with room to
// spare (copying the template there takes a tenth of the time it takes on
// a disk), else the system's temporary directory.
func scratchDir() string {
	if d := os.Getenv("PGWALK_TMPDIR"); d != "" {
		return d
	}
	const shm = "/dev/shm"
	var fs unix.Statfs_t
	if unix.Statfs(shm, &fs) == nil && fs.Type == unix.TMPFS_MAGIC &&
		fs.Bavail*uint64(fs.Bsize) > 512<<20 && unix.Access(shm, unix.W_OK|unix.X_OK) == nil {
		return shm
	}
	return os.TempDir()
}

// removeStale removes what a killed run (one that could not clean up) of
// this user or of the server's account cred left in dir: its directory,
// the processes still working there, and its System V segment. A directory
// whose postmaster still runs belongs to a live run and is left alone.
func removeStale(dir string, cred *syscall.Credential) {
	ours := func(uid uint32) bool { return uid == uint32(os.Geteuid()) || (cred != nil && uid == cred.Uid) }
	runs, _ := filepath.Glob(filepath.Join(dir, "pgwalk-live-*"))
	for _, run := range runs {
		var st unix.Stat_t
		if unix.Lstat(run, &st) != nil || !ours(st.Uid) || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		data := filepath.Join(run, "data")
		lines, err := readLines(filepath.Join(data, "postmaster.pid"))
		if err != nil {
			// No server was started there yet, or it shut down: only an
			// old directory is surely abandoned.
			if time.Since(time.Unix(st.Mtim.Unix())) > 24*time.Hour {
				_ = os.RemoveAll(run)
			}
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(lines[0])); err == nil && pid > 0 {
			if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == data {
				continue // its postmaster runs: a live run
			}
		}
		for _, pid := range processesIn(data) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if len(lines) >= 7 {
			if f := strings.Fields(lines[6]); len(f) == 2 {
				key, _ := strconv.Atoi(f[0])
				id, _ := strconv.Atoi(f[1])
				_ = removeShm(id, key)
			}
		}
		_ = os.RemoveAll(run)
	}
}

// markInheritedCloseOnExec sets close-on-exec on every descriptor above 2
// of this process, so that the server inherits none of them (a test
// harness or a shell may have left some open).
func markInheritedCloseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// startCluster copies the template into a new private directory and
// starts the server there, untraced, waiting until it accepts connections.
// Its first connection, the warm-up, is made once it is traced (see
// probe_linux.go).
func startCluster(ctx context.Context, bin, version string, cred *syscall.Credential, conf []string) (c *cluster, err error) {
	template, err := clusterTemplate(ctx, bin, version, cred)
	if err != nil {
		return nil, err
	}
	removeStale(scratchDir(), cred)
	dir, err := os.MkdirTemp(scratchDir(), "pgwalk-live-*")
	if err != nil {
		return nil, err
	}
	c = &cluster{bin: bin, version: version, cred: cred, conf: conf, dir: dir, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "postmaster.log")}
	defer func() {
		if err != nil {
			c.stop()
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
	if err := os.Mkdir(c.data, 0o700); err != nil {
		return c, err
	}
	if err := copyTree(template, c.data, cred); err != nil {
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
func (c *cluster) launch() error {
	logf, err := os.OpenFile(c.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
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
	args := []string{c.bin,
		"-D", c.data,
		"-k", c.dir,
		"-p", strconv.Itoa(clusterPort),
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
	pid, err := syscall.ForkExec(c.bin, args, &syscall.ProcAttr{
		Dir:   c.dir,
		Env:   serverEnv(),
		Files: []uintptr{devnull.Fd(), logf.Fd(), logf.Fd()},
		// Setpgid keeps a Ctrl-C in pgwalk's terminal away from the
		// server; stopping it is the driver's job.
		Sys: &syscall.SysProcAttr{Setpgid: true, Credential: c.cred},
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	c.pid = pid
	return nil
}

// waitReady waits until postmaster.pid says "ready".
func (c *cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyBound)
	pidfile := filepath.Join(c.data, "postmaster.pid")
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if lines, err := readLines(pidfile); err == nil && len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
			if f := strings.Fields(lines[6]); len(f) == 2 {
				c.shmKey, _ = strconv.Atoi(f[0])
				c.shmID, _ = strconv.Atoi(f[1])
			}
			return nil
		}
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil); pid == c.pid {
			c.reaped = true
			return fmt.Errorf("postgres exited at start (%s): %s", describeExit(ws), c.logTail(20))
		}
		if time.Now().After(deadline) {
			return &StageTimeoutError{Stage: "starting the cluster", Expected: `postmaster.pid to say "ready"`, After: readyBound,
				Cause: "the machine is overloaded, or the server is stuck (its log ends: " + strings.Join(lastLines(c.logTail(3)), " | ") + ")",
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

// logTail returns the last n lines of the server log.
func (c *cluster) logTail(n int) string {
	lines, err := readLines(c.log)
	if err != nil {
		return "(no server log)"
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// logLinesFrom returns the complete lines of the server log after byte
// off and the offset after them.
func (c *cluster) logLinesFrom(off int64) ([]string, int64) {
	f, err := os.Open(c.log)
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

// logSize returns the current size of the server log.
func (c *cluster) logSize() int64 {
	st, err := os.Stat(c.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// stop shuts the server down at once (SIGQUIT: immediate shutdown, which
// still removes the shared memory), kills whatever of the cluster is
// left, checks the System V segment is gone and removes the directory.
func (c *cluster) stop() error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.pid > 0 && !c.reaped {
		_ = unix.Kill(c.pid, unix.SIGQUIT)
		if !c.reap(15 * time.Second) {
			_ = unix.Kill(c.pid, unix.SIGKILL)
			c.reap(5 * time.Second)
		}
	}
	if c.data != "" {
		for i := 0; i < 50; i++ {
			left := processesIn(c.data)
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
		if left := processesIn(c.data); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes of the cluster still running: %v", left))
		}
	}
	if err := removeShm(c.shmID, c.shmKey); err != nil {
		errs = append(errs, err)
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reap waits up to d for the postmaster to exit and collects its status.
func (c *cluster) reap(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil)
		if pid == c.pid || errors.Is(err, unix.ECHILD) {
			c.reaped = true
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shmExists reports whether the System V segment id still exists with
// the cluster's key.
func shmExists(id, key int) (bool, int, error) {
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

// removeShm makes sure the cluster's System V segment is gone: a server
// that shut down removed it; one that was killed left it, and nobody is
// attached to it any more.
func removeShm(id, key int) error {
	exists, nattch, err := shmExists(id, key)
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
