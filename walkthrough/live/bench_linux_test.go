package live

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// BenchmarkLive measures, per version, per breakpoint mechanism and per run
// (one op = one whole live run against a cached cluster template):
//
//   - first-stop-ms: from Start to the first stop, the wait a user sees;
//   - traced-ms: one connection walked through every stop without pauses,
//     from the first Next to the closing check (client connected);
//   - untraced-ms: a plain connection to the same cluster once the trace
//     is over (mean of several);
//   - traced/untraced: the ratio of the two.
//
// The target is a traced/untraced ratio of at most 3 with either
// mechanism. The hardware mechanism is measured where the driver's probe
// sees the debug registers trap, and skipped elsewhere.
//
// Run it with: go test -run '^$' -bench Live -benchtime 5x ./walkthrough/live/
func BenchmarkLive(b *testing.B) {
	for _, name := range []string{"16.4", "17.1", "18.4"} {
		for _, mech := range mechanisms {
			b.Run(name+"/"+mech, func(b *testing.B) { benchLive(b, name, mech) })
		}
	}
}

func benchLive(b *testing.B, name, mech string) {
	v := version(b, name)
	bin := liveBin(b, v)
	// The first run may initialise the cluster template and stage
	// the binaries; measure second runs only. It also says whether
	// the hardware mechanism can run here.
	if _, _, _, why := benchRun(b, v, bin, mech, 0); !strings.HasPrefix(why, "say.live.breakpoints_"+mech) {
		b.Skipf("the %s mechanism does not run here: %s", mech, why)
	}
	b.ResetTimer()
	var first, traced, untraced time.Duration
	for i := 0; i < b.N; i++ {
		f, t, u, _ := benchRun(b, v, bin, mech, 5)
		first += f
		traced += t
		untraced += u
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(ms(first), "first-stop-ms")
	b.ReportMetric(ms(traced), "traced-ms")
	b.ReportMetric(ms(untraced), "untraced-ms")
	b.ReportMetric(float64(traced)/float64(untraced), "traced/untraced")
}

// benchRun runs one live walk with the mechanism mech ("hardware": auto,
// which uses it where the registers trap) and then plain connections to
// the same cluster. It returns the time to the first stop, the traced
// connection's time, the mean time of a plain connection, and what the
// driver said about its breakpoints.
func benchRun(b *testing.B, v walkthrough.Version, bin, mech string, plain int) (first, traced, untraced time.Duration, why string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	mode := mech
	if mech == "hardware" {
		mode = "auto"
	}
	tell := func(m walkthrough.Msg) {
		if strings.HasPrefix(m.Key, "say.live.breakpoints_") {
			why = m.Key
		}
	}
	d := New(walkthrough.DriverOptions{Version: v, PGBin: bin, Breakpoints: mode, Teller: tell})
	defer d.Close()
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	walk := time.Now()
	for {
		ev, err := d.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if first == 0 {
			first = time.Since(start)
		}
		if ev.Phase == walkthrough.Epilogue {
			traced = time.Since(walk)
			break
		}
	}
	if _, err := d.Next(ctx); !walkthrough.IsEOF(err) {
		b.Fatalf("after the closing check: %v", err)
	}
	info := d.Cluster()
	for i := 0; i < plain; i++ {
		t0 := time.Now()
		conn, err := pgconn.Connect(ctx, connString(info.SocketDir, info.Port))
		if err != nil {
			b.Fatal(err)
		}
		untraced += time.Since(t0)
		conn.Close(ctx)
	}
	if plain > 0 {
		untraced /= time.Duration(plain)
	}
	return first, traced, untraced, why
}
