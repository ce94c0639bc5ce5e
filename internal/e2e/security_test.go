//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// helperEnv makes the test binary, run as a helper, try to connect to the
// Unix socket named by its value and report the result on stdout.
const helperEnv = "PGWALK_E2E_CONNECT"

// connectHelper is the helper mode of the test binary (see TestMain): it
// tries to connect to the Unix socket path and prints what happened.
func connectHelper(path string) {
	c, err := net.Dial("unix", path)
	switch {
	case err == nil:
		c.Close()
		fmt.Println("connected")
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		fmt.Println("refused: permission denied")
	default:
		fmt.Println("failed:", err)
	}
}

// connectAs tries to connect to the Unix socket path as user uid/gid, in a
// copy of the test binary that user can execute, and returns what the
// helper reports.
func connectAs(t *testing.T, path string, uid, gid uint32) string {
	t.Helper()
	helper := filepath.Join(filepath.Dir(pgwalkBinary(t)), "connect-helper")
	if _, err := os.Stat(helper); err != nil {
		src, err := os.Open(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.OpenFile(helper, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err == nil {
			if _, err := io.Copy(dst, src); err != nil {
				t.Fatal(err)
			}
			dst.Close()
		}
	}
	cmd := exec.Command(helper, "-test.run=^$")
	cmd.Env = []string{helperEnv + "=" + path, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("connect helper as uid %d: %v: %s", uid, err, out)
	}
	return strings.TrimSpace(string(out))
}

// lookupIDs returns the uid and gid of the account name.
func lookupIDs(t *testing.T, name string) (uint32, uint32) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no %s account: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid)
}

// TestSecurity checks, for every driver at its first stop with a child
// process: its private directories are mode 0700; its Unix socket cannot
// be reached by another user (the connect attempt runs as that user); it
// listens on TCP on the loopback interface only; and it traces no process
// it did not start.
func TestSecurity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to try the socket as another user")
	}
	pgwalkBinary(t)
	for _, row := range driverRows {
		if !row.holds.tempDir {
			continue
		}
		t.Run(row.name, func(t *testing.T) {
			v := "16.4"
			args := append([]string{"run", "--version", v}, row.args...)
			stops := censusOf(t, row, args)
			k := 1
			for i, ev := range stops {
				if ev.Values.ChildPID > 0 {
					k = i + 1
					break
				}
			}
			r, fp, id, bases, _ := runToStop(t, row, args, k)
			defer func() {
				r.Press("q")
				r.Wait()
				checkLeftBehind(t, fp, r.Pid(), id, bases)
			}()

			if len(fp.Dirs) == 0 {
				t.Fatal("no private directory seen")
			}
			for d := range fp.Dirs {
				st, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				if perm := st.Mode().Perm(); perm != 0o700 {
					t.Errorf("%s has mode %04o, want 0700", d, perm)
				}
			}
			if len(fp.UnixPaths) == 0 {
				t.Fatal("no Unix socket seen")
			}
			for _, sock := range fp.UnixPaths {
				owner := fileOwner(t, filepath.Dir(sock))
				// Someone who is not the directory's owner: postgres
				// for pgwalk's own (root's) directory, nobody for the
				// live cluster's (the server runs as postgres).
				other := "postgres"
				if uid, _ := lookupIDs(t, other); uid == owner {
					other = "nobody"
				}
				uid, gid := lookupIDs(t, other)
				if got := connectAs(t, sock, uid, gid); got != "refused: permission denied" {
					t.Errorf("user %s connecting to %s: %s, want permission denied", other, sock, got)
				}
				// The control: the owner can connect.
				if ouid := fileOwner(t, filepath.Dir(sock)); ouid != 0 {
					ogid := fileGroup(t, filepath.Dir(sock))
					if got := connectAs(t, sock, ouid, ogid); got != "connected" {
						t.Errorf("the owner (uid %d) connecting to %s: %s", ouid, sock, got)
					}
				} else if c, err := net.Dial("unix", sock); err != nil {
					t.Errorf("the owner (root) cannot connect to %s: %v", sock, err)
				} else {
					c.Close()
				}
			}
			checkLoopback(t, fp)
			if n := checkTracees(t, fp); row.holds.traced && n == 0 {
				t.Error("pgwalk traces nothing at the stop: the tracer check looks at the wrong threads")
			}
		})
	}
}

func fileOwner(t *testing.T, path string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}

func fileGroup(t *testing.T, path string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Gid
}

// checkTracees fails t when a thread of pgwalk traces a process that is
// not one of the run's own: pgwalk attaches only to what it started. It
// returns how many processes pgwalk traces.
func checkTracees(t testing.TB, fp footprint) int {
	t.Helper()
	n := 0
	pgwalk := fp.Procs[0].PID
	threads := map[int]bool{pgwalk: true}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pgwalk))
	for _, e := range tasks {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			threads[tid] = true
		}
	}
	for pid := range allProcs() {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			rest, ok := strings.CutPrefix(line, "TracerPid:")
			if !ok {
				continue
			}
			tracer, _ := strconv.Atoi(strings.TrimSpace(rest))
			if tracer == 0 || !threads[tracer] {
				continue
			}
			n++
			if !slices.ContainsFunc(fp.Procs, func(p procInfo) bool { return p.PID == pid }) {
				t.Errorf("pgwalk (thread %d) traces pid %d, which is not a process of its run", tracer, pid)
			}
		}
	}
	return n
}

// TestCancelKeysFromCryptoRand checks, in the source, that the
// re-enactment draws its cancel keys from crypto/rand: its package imports
// crypto/rand and no non-test file of the module imports math/rand.
func TestCancelKeysFromCryptoRand(t *testing.T) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Skip("no source location")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..")
	reenactDir := filepath.Join(root, "walkthrough", "reenact")
	if _, err := os.Stat(filepath.Join(reenactDir, "reenact.go")); err != nil {
		t.Fatalf("cannot find the re-enactment's source: %v", err)
	}
	usesCrypto := false
	files := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "math/rand" || p == "math/rand/v2" {
				t.Errorf("%s imports %s: keys and anything secret must come from crypto/rand", path, p)
			}
			if p == "crypto/rand" && filepath.Dir(path) == reenactDir {
				usesCrypto = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !usesCrypto {
		t.Errorf("walkthrough/reenact does not import crypto/rand: where do its cancel keys come from?")
	}
	t.Logf("%d non-test Go files checked", files)
}
