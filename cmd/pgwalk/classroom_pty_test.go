//go:build linux || darwin

package main

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
)

// classroom is a run that waits for clients, on a terminal of 120x40, its
// standard error on a pipe: the screen holds what the screen shows.
type classroom struct {
	*ptytest.Term
	t      *testing.T
	port   int
	socket string // the Unix socket's directory
}

var connectLine = regexp.MustCompile(`psql -h (\S+) -p (\d+) -U postgres postgres`)

// startClassroom runs `pgwalk run --wait-for-client` with args added and
// reads how to connect from its first screen.
func startClassroom(t *testing.T, args ...string) *classroom {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run", "--version", "16.4", "--wait-for-client"}, args...)...)
	cmd.Env = append(os.Environ(), "PGWALK_TEST_MAIN=1", "NO_COLOR=1", "HOME="+t.TempDir(), "COLUMNS=", "LINES=")
	c := &classroom{Term: ptytest.Start(t, cmd, 40, 120), t: t}
	first := ptytest.StripEscapes(c.WaitScreen(1))
	m := connectLine.FindAllStringSubmatch(first, -1)
	if len(m) < 2 || !strings.Contains(first, "waiting for a client") {
		t.Fatalf("the first screen must say how to connect and that pgwalk waits:\n%s", first)
	}
	c.socket = m[0][1]
	c.port, _ = strconv.Atoi(m[0][2])
	return c
}

// screen returns what screen n shows, escapes removed.
func (c *classroom) screen(n int) string {
	c.t.Helper()
	return ptytest.StripEscapes(c.WaitScreen(n))
}

// waitTail waits until the output since screen n began holds s (a line
// drawn over that screen, which starts no new one), and returns it.
func (c *classroom) waitTail(n int, s string) string {
	c.t.Helper()
	deadline := time.Now().Add(ptytest.Timeout)
	for {
		screens := c.Screens()
		if len(screens) >= n {
			tail := ptytest.StripEscapes(strings.Join(screens[n-1:], ptytest.ClearScreen))
			if strings.Contains(tail, s) {
				return tail
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q on screen %d or after within %v; terminal:\n%s\nstderr:\n%s", s, n, ptytest.Timeout, c.Tail(), c.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dial connects a client the way psql does, and closes it when the test
// ends.
func (c *classroom) dial(network, addr string) net.Conn {
	c.t.Helper()
	nc, err := net.Dial(network, addr)
	if err != nil {
		c.t.Fatalf("connect over %s to %s: %v", network, addr, err)
	}
	c.t.Cleanup(func() { nc.Close() })
	return nc
}

func (c *classroom) unixPath() string {
	return c.socket + "/.s.PGSQL." + strconv.Itoa(c.port)
}

// quit presses q and checks the exit and the summary.
func (c *classroom) quit() {
	c.t.Helper()
	c.Press("q")
	if code := c.Wait(); code != 0 {
		c.t.Fatalf("q: exit %d; stderr:\n%s", code, c.Stderr())
	}
	if !strings.Contains(c.Stderr(), "(ended with q)") {
		c.t.Errorf("no summary after q:\n%s", c.Stderr())
	}
}

// TestClassroomKeysBeforeTheFirstClient: while pgwalk waits for its first
// client, ? and c open over the page, a key that needs a stop says there
// is none yet, and q quits at once.
func TestClassroomKeysBeforeTheFirstClient(t *testing.T) {
	c := startClassroom(t)
	c.Press("?")
	if s := c.screen(2); !strings.Contains(s, "how students connect") || !strings.Contains(s, "PgDn / PgUp") {
		t.Fatalf("? must show every key, c among them:\n%s", s)
	}
	c.Press("b") // closes the help only
	if s := c.screen(3); strings.Contains(s, "PgDn / PgUp") || strings.Contains(s, "no stop yet") {
		t.Fatalf("the key after ? must only close it:\n%s", s)
	}
	c.Press("b")
	if s := c.screen(4); !strings.Contains(s, "no stop yet: the walk begins when the first client connects") {
		t.Fatalf("b before any stop must say there is none:\n%s", s)
	}
	c.Press("c")
	if s := c.screen(5); !strings.Contains(s, "The next key closes this.") || !strings.Contains(s, "psql -h 127.0.0.1 -p "+strconv.Itoa(c.port)) {
		t.Fatalf("c must show the connect commands over the page:\n%s", s)
	}
	c.quit()
}

// TestClassroomFlow walks a class: the first client's banner says who
// connected and from where; at the end of its walk every key still works
// while pgwalk waits for the next client; a client that connects while
// the teacher looks back is announced and shown in the footer, and G goes
// to it; c brings the connect commands back; a client that connects while
// the teacher is on another stop is shown in the footer. It listens on
// 127.0.0.2 (--listen), a loopback address, which needs no warning.
func TestClassroomFlow(t *testing.T) {
	c := startClassroom(t, "--listen", "127.0.0.2")
	if s := c.screen(1); !strings.Contains(s, "psql -h 127.0.0.2 -p "+strconv.Itoa(c.port)) {
		t.Fatalf("the TCP line must name the --listen address:\n%s", s)
	}
	if strings.Contains(c.Stderr(), "beyond this machine") {
		t.Errorf("127.0.0.2 is a loopback address: no warning:\n%s", c.Stderr())
	}

	// The first client, over the Unix socket: its banner, then its
	// first stop.
	c.dial("unix", c.unixPath())
	tail := c.waitTail(1, "connected over the Unix socket "+c.unixPath())
	if !strings.Contains(tail, "(process "+strconv.Itoa(os.Getpid())+", system user ") && !strings.Contains(tail, "a client connected over the Unix socket") {
		t.Errorf("the banner must say which process connected:\n%s", tail)
	}
	if s := c.screen(2); !strings.Contains(s, "Phase 1/5 · Struct creation") || !strings.Contains(s, "connection 1") {
		t.Fatalf("screen 2 must be the first client's first stop:\n%s", s)
	}

	// Walk it to its end: n until pgwalk waits for the next client (the
	// footer says so over the last screen).
	frame := 2
	for {
		c.Press("n")
		deadline := time.Now().Add(ptytest.Timeout)
		for len(c.Screens()) <= frame && !strings.Contains(ptytest.StripEscapes(c.Screens()[frame-1]), "waiting for a client") {
			if time.Now().After(deadline) {
				t.Fatalf("n on screen %d: no new screen and no wait within %v:\n%s", frame, ptytest.Timeout, c.Tail())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(c.Screens()) <= frame {
			break
		}
		frame++
		if frame > 60 {
			t.Fatalf("60 screens and pgwalk does not wait for a client:\n%s", c.Tail())
		}
	}
	if s := c.screen(frame); !strings.Contains(s, "Phase 5/5") {
		t.Fatalf("pgwalk must wait after the last stop of the connection:\n%s", s)
	}

	// Keys work while it waits: b turns back a page, g goes to the first
	// note.
	c.Press("b")
	frame++
	if s := c.screen(frame); !strings.Contains(s, "Phase 5/5") || strings.Contains(s, "waiting for a client") {
		t.Fatalf("b while waiting must turn back a page of phase 5:\n%s", s)
	}
	c.Press("g")
	frame++
	if s := c.screen(frame); !strings.Contains(s, "Phase 1/5") || !strings.Contains(s, "the first note: the processes do not rewind") {
		t.Fatalf("g while waiting must go to the first note:\n%s", s)
	}

	// A second client, over TCP, while the teacher looks back: a banner,
	// and the footer says that G goes to it.
	tcp := c.dial("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(c.port)))
	c.waitTail(frame, "a client connected over TCP from "+tcp.LocalAddr().String())
	c.waitTail(frame, "1 client waiting: G goes to it")

	// c shows the connect commands again, with the count.
	c.Press("c")
	frame++
	if s := c.screen(frame); !strings.Contains(s, "psql -h "+c.socket) || !strings.Contains(s, "2 clients have connected so far.") {
		t.Fatalf("c must show the connect commands and the count:\n%s", s)
	}
	c.Press("j") // closes it
	frame++
	c.screen(frame)
	c.Press("G")
	frame++
	if s := c.screen(frame); !strings.Contains(s, "connection 2") || !strings.Contains(s, "Phase 1/5") || strings.Contains(s, "client waiting") {
		t.Fatalf("G must go to the second client's first stop:\n%s", s)
	}

	// A third, while the teacher is on the second one's first stop: the
	// footer says that n walks on to it.
	c.dial("unix", c.unixPath())
	c.waitTail(frame, "1 client waiting: n walks on to it")
	c.quit()
}
