//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// safety bounds every wait so that a hang fails the test instead of
// stalling it. No test asserts on how long anything took.
const safety = 90 * time.Second

// built is the pgwalk binary, built once for the whole package.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		connectHelper(path)
		os.Exit(0)
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binaryEnv names a pgwalk binary to test instead of building one, to
// compare two builds of pgwalk with the same tests.
const binaryEnv = "PGWALK_E2E_BINARY"

// pgwalkBinary builds cmd/pgwalk once (with -race when the tests run with
// -race) and returns its path, or returns the binary binaryEnv names.
func pgwalkBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if path := os.Getenv(binaryEnv); path != "" {
			if _, err := os.Stat(path); err != nil {
				built.err = fmt.Errorf("%s: %w", binaryEnv, err)
				return
			}
			built.path = path
			return
		}
		dir, err := os.MkdirTemp("", "e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		// The directory is reached by the live driver's server user when
		// it execs nothing from here, but keep it traversable anyway.
		_ = os.Chmod(dir, 0o755)
		path := filepath.Join(dir, "pgwalk")
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/pgwalk/pgwalk/cmd/pgwalk")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		built.path = path
	})
	if built.err != nil {
		t.Fatalf("building pgwalk: %v", built.err)
	}
	return built.path
}

// runCounter numbers the runs of this test process, to tag each run's
// environment.
var runCounter atomic.Int64

// runEnvKey is the environment variable every pgwalk run of the harness
// carries, with a value unique to the run: whatever still has it in its
// environment after the run came from the run.
const runEnvKey = "PGWALK_E2E_RUN"

// baseEnv returns the environment of a pgwalk run tagged id, with TMPDIR
// set to tmp when tmp is not "".
func baseEnv(id, tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TMPDIR", "GORACE", "GOTRACEBACK", "NO_COLOR", "CLICOLOR_FORCE", runEnvKey:
			continue
		}
		env = append(env, kv)
	}
	// A binary built with -race sleeps a second at exit unless told not
	// to; the re-enactment's children are the same binary.
	// GOTRACEBACK=all: a pgwalk that hangs is sent SIGQUIT and then
	// writes every goroutine's stack, the runtime's too.
	env = append(env, "GORACE=atexit_sleep_ms=0", "GOTRACEBACK=all", "NO_COLOR=1", runEnvKey+"="+id)
	if tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return env
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// jsonRun is pgwalk running with --output json, its stdout read one event
// per line.
type jsonRun struct {
	t      testing.TB
	id     string
	cmd    *exec.Cmd
	stderr lockedBuffer
	events chan walkthrough.Event
	// readErr is set before events is closed.
	readErr error
	done    chan struct{}
	waitErr error
}

// startJSON starts pgwalk with args (plus --output json) in its own
// process group, as a shell starts a job.
func startJSON(t testing.TB, env []string, id string, args ...string) *jsonRun {
	t.Helper()
	cmd := exec.Command(pgwalkBinary(t), append(args, "--output", "json")...)
	cmd.Env = env
	// Pdeathsig: if the test binary dies (a timeout), pgwalk goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r := &jsonRun{t: t, id: id, cmd: cmd, events: make(chan walkthrough.Event, 64), done: make(chan struct{})}
	cmd.Stderr = &r.stderr
	// A process pgwalk started may outlive it holding stderr: Wait stops
	// copying it then, rather than wait for that process too.
	cmd.WaitDelay = 10 * time.Second
	// An os.Pipe rather than StdoutPipe: Wait must not close the read end
	// before the reader has seen everything pgwalk wrote.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	go func() {
		defer close(r.events)
		defer out.Close()
		br := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				var ev walkthrough.Event
				if jerr := json.Unmarshal(line, &ev); jerr != nil {
					r.readErr = fmt.Errorf("stdout line is not an event: %v: %.200q", jerr, line)
					_, _ = io.Copy(io.Discard, br)
					return
				}
				r.events <- ev
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.readErr = err
				}
				return
			}
		}
	}()
	go func() {
		r.waitErr = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// pid returns pgwalk's pid.
func (r *jsonRun) pid() int { return r.cmd.Process.Pid }

// next returns the next event, or fails the test when pgwalk ends first.
func (r *jsonRun) next() walkthrough.Event {
	r.t.Helper()
	select {
	case ev, ok := <-r.events:
		if !ok {
			<-r.done
			r.t.Fatalf("pgwalk ended before the next stop (%v, read: %v); stderr:\n%s", r.waitErr, r.readErr, r.stderr.String())
		}
		return ev
	case <-time.After(safety):
		r.dumpStacks()
		r.t.Fatalf("no stop came within %v; stderr (with pgwalk's goroutines):\n%s", safety, r.stderr.String())
	}
	return walkthrough.Event{}
}

// wait waits for pgwalk to exit and returns its exit code (-1 when a
// signal ended it). It kills pgwalk and fails when it does not exit.
func (r *jsonRun) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(safety):
		r.dumpStacks()
		_ = syscall.Kill(-r.pid(), syscall.SIGKILL)
		<-r.done
		r.t.Fatalf("pgwalk did not exit within %v; stderr (with pgwalk's goroutines):\n%s", safety, r.stderr.String())
	}
	r.rest() // what is left of stdout
	return r.cmd.ProcessState.ExitCode()
}

// rest returns the events left until pgwalk's stdout ends. It fails the
// test when neither an event nor the end comes within safety.
func (r *jsonRun) rest() []walkthrough.Event {
	r.t.Helper()
	var evs []walkthrough.Event
	for {
		select {
		case ev, ok := <-r.events:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-time.After(safety):
			r.dumpStacks()
			r.t.Fatalf("after %d stops, neither another stop nor the end of stdout within %v; stderr (with pgwalk's goroutines):\n%s", len(evs), safety, r.stderr.String())
		}
	}
}

// dumpStacks sends pgwalk SIGQUIT, on which it writes every goroutine's
// stack to stderr and exits, and gives it a few seconds: a hang then says
// where it hangs.
func (r *jsonRun) dumpStacks() {
	if err := syscall.Kill(r.pid(), syscall.SIGQUIT); err != nil {
		return
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}

// census runs pgwalk to the end with args and returns its stops. ok is
// false, with pgwalk's last stderr line, when pgwalk failed.
func census(t testing.TB, env []string, args ...string) (stops []walkthrough.Event, why string) {
	t.Helper()
	r := startJSON(t, env, "census", args...)
	stops = r.rest()
	if code := r.wait(); code != 0 {
		lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
		return nil, fmt.Sprintf("exit %d: %s", code, lines[len(lines)-1])
	}
	if r.readErr != nil {
		t.Fatal(r.readErr)
	}
	return stops, ""
}
