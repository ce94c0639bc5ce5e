package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/narrate"
)

// arrivingDriver is narration that, as it starts, says two clients
// arrived, one over each listen socket, as a driver that listens does.
type arrivingDriver struct {
	walkthrough.Driver
	opts walkthrough.DriverOptions
}

// Observes says what the narration it wraps says: nothing is observed.
func (d *arrivingDriver) Observes() bool { return false }

func (d *arrivingDriver) Start(ctx context.Context) error {
	if err := d.Driver.Start(ctx); err != nil {
		return err
	}
	if d.opts.Arrived != nil {
		d.opts.Arrived(walkthrough.Arrival{Via: "unix", Addr: "/tmp/x/.s.PGSQL.5499", PID: os.Getpid()})
		d.opts.Arrived(walkthrough.Arrival{Via: "tcp", Addr: "192.0.2.7:40000"})
	}
	return nil
}

// TestRunListenAndArrivals runs `run --wait-for-client --listen 0.0.0.0`
// off a terminal with a driver that listens on nothing (nothing here may
// listen beyond the loopback): the options reach the driver, the warning
// is said once, and each client that connects is announced, who and from
// where.
func TestRunListenAndArrivals(t *testing.T) {
	io, _, _, errOut := iostreams.Test()
	f := NewFactory(io)
	var got walkthrough.DriverOptions
	f.NewDriver = func(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error) {
		got = opts
		return &arrivingDriver{Driver: narrate.New(opts), opts: opts}, nil
	}
	code := Execute(context.Background(), f, []string{"run", "--version", "16.4", "--wait-for-client", "--listen", "0.0.0.0", "--port", "5499", "--style", "notty"})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Listen != "0.0.0.0" || got.Port != 5499 || !got.WaitForClient || got.Arrived == nil {
		t.Fatalf("the driver's options: %+v", got)
	}
	stderr := errOut.String()
	if n := strings.Count(stderr, "listening on 0.0.0.0:5499, beyond this machine"); n != 1 {
		t.Errorf("the warning must be said once, not %d times:\n%s", n, stderr)
	}
	program, _ := clientProcess(os.Getpid())
	for _, want := range []string{
		"pgwalk: a client connected over TCP from 192.0.2.7:40000\n",
		"(process " + strconv.Itoa(os.Getpid()) + ", system user ",
		"connected over the Unix socket /tmp/x/.s.PGSQL.5499\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if program != "" && !strings.Contains(stderr, "pgwalk: "+program+" (process ") {
		t.Errorf("the banner must name the client's program %q:\n%s", program, stderr)
	}

	// Without --wait-for-client no one is announced, and no warning.
	io, _, _, errOut = iostreams.Test()
	f = NewFactory(io)
	f.NewDriver = func(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error) {
		if opts.Arrived != nil {
			t.Error("a run that waits for no client must not ask for arrivals")
		}
		return narrate.New(opts), nil
	}
	if code := Execute(context.Background(), f, []string{"run", "--version", "16.4", "--style", "notty"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut.String(), "connected") || strings.Contains(errOut.String(), "listening") {
		t.Errorf("stderr:\n%s", errOut)
	}
}
