package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"golang.org/x/sys/unix"
)

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
	if err := CopyTree(data, tmp, nil); err != nil {
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

// ScratchDir returns where a run's cluster lives: $PGWALK_TMPDIR when set,
// else /dev/shm when it is a writable memory file system with room to
// spare (copying the template there takes a tenth of the time it takes on
// a disk), else the system's temporary directory.
func ScratchDir() string {
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

// Reap ends what a killed run (one that could not clean up) left working
// in its directory dir: the server processes still running in its data
// directory, and the server's System V segment. Sweep calls it before it
// removes the directory.
func Reap(dir string) {
	data := filepath.Join(dir, "data")
	for _, pid := range ProcessesIn(data) {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	lines, err := readLines(filepath.Join(data, "postmaster.pid"))
	if err != nil || len(lines) < 7 {
		return
	}
	if f := strings.Fields(lines[6]); len(f) == 2 {
		key, _ := strconv.Atoi(f[0])
		id, _ := strconv.Atoi(f[1])
		_ = RemoveShm(id, key)
	}
}

// Sweep removes what killed runs left in ScratchDir, under the one set of
// rules pgwalk keeps for every driver (tmpdir.Sweeper): a private
// directory named pgwalk-live-*, whose owner marker is this user's and
// names a pgwalk process that is gone. Reap ends its server first. It
// returns the directories removed.
func Sweep() ([]string, error) {
	return tmpdir.Sweeper{Base: ScratchDir(), Prefix: RunPrefix, Reap: Reap}.Sweep()
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
