//go:build unix

package reenact

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestListenWhereAsked starts the mini postmaster with Listen and Port
// (another loopback address: nothing here listens beyond the loopback),
// connects over TCP and over the Unix socket, and checks where it listens,
// the psql lines it gives, and that every client is told to Arrived as it
// is accepted, with where it came from.
func TestListenWhereAsked(t *testing.T) {
	arrived := make(chan walkthrough.Arrival, 4)
	// A free port on 127.0.0.2, for Port to ask for.
	probe, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()

	d := startDriver(t, walkthrough.DriverOptions{
		Version: version(t, "16.4"), WaitForClient: true,
		Listen: "127.0.0.2", Port: port,
		Arrived: func(a walkthrough.Arrival) { arrived <- a },
	}, nil)
	if got := d.tcpLn.Addr().String(); got != "127.0.0.2:"+strconv.Itoa(port) {
		t.Fatalf("listening on %s, want 127.0.0.2:%d", got, port)
	}
	if !strings.HasSuffix(d.sockPath, ".s.PGSQL."+strconv.Itoa(port)) {
		t.Errorf("the Unix socket %s must carry the port's number", d.sockPath)
	}
	cmds := d.PsqlCommands()
	if len(cmds) != 2 || cmds[1] != "psql -h 127.0.0.2 -p "+strconv.Itoa(port)+" -U postgres postgres" {
		t.Errorf("psql lines: %q", cmds)
	}
	if got := d.describeListeners(); got.Key != "fact.reenact.listen_sockets" || got.Args["tcp"] != "127.0.0.2:"+strconv.Itoa(port) {
		t.Errorf("listen sockets said as %+v", got)
	}

	tcp, err := net.Dial("tcp", d.tcpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	a := within(t, arrived, "arrival over TCP")
	if a.Via != "tcp" || a.Addr != tcp.LocalAddr().String() || a.PID != 0 {
		t.Errorf("TCP arrival %+v, want from %s", a, tcp.LocalAddr())
	}
	unix, err := net.Dial("unix", d.sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	a = within(t, arrived, "arrival over the Unix socket")
	wantPID := 0 // only Linux says (SO_PEERCRED)
	if runtime.GOOS == "linux" {
		wantPID = os.Getpid()
	}
	if a.Via != "unix" || a.Addr != d.sockPath || a.PID != wantPID {
		t.Errorf("Unix arrival %+v, want %s from process %d", a, d.sockPath, wantPID)
	}
}

// TestListenRefusesANonAddress checks that Start says what is wrong with
// a Listen that is no IP address.
func TestListenRefusesANonAddress(t *testing.T) {
	d := New(walkthrough.DriverOptions{Version: version(t, "16.4"), WaitForClient: true, Listen: "localhost"})
	defer d.Close()
	if err := d.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("Start: %v", err)
	}
}
