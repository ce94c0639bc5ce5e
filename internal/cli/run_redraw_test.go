package cli

import (
	"context"
	"io"
	"testing"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/narrate"
)

// screenWalk returns an interactive walk on a terminal of cols x rows
// that writes nowhere, with every stop of a narrated 16.4 run received,
// and the state on the first stop, drawn once.
func screenWalk(tb testing.TB, cols, rows string) (*walk, walkthrough.State) {
	tb.Helper()
	ios, _, _, _ := iostreams.Test()
	ios.Out = io.Discard
	ios.Getenv = func(k string) string {
		switch k {
		case "COLUMNS":
			return cols
		case "LINES":
			return rows
		}
		return ""
	}
	v, err := walkthrough.LookupVersion("16.4")
	if err != nil {
		tb.Fatal(err)
	}
	notes, err := annotations.Default()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := render.New(render.Options{Style: "dark", Width: 80, Color: true})
	if err != nil {
		tb.Fatal(err)
	}
	opts := &RunOptions{IO: ios, Version: v, Lang: "en", Driver: "narrate", Output: "text"}
	w := &walk{opts: opts, notes: notes, renderer: r, ctx: context.Background(), firstOfPhase: map[string]int{},
		views: map[viewKey]*stopView{}, arrivedCh: make(chan struct{}, 1), interactive: true, screen: ios.NewScreen(render.Wrap)}
	drv := narrate.New(walkthrough.DriverOptions{Version: v})
	if err := drv.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	w.drv, w.session = drv, walkthrough.NewSession(drv, v)
	var st walkthrough.State
	for range 10 {
		ev, err := w.session.Next(context.Background())
		if walkthrough.IsEOF(err) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.received(ev); err != nil {
			tb.Fatal(err)
		}
		st = st.Received(ev.Phase)
	}
	if st, err = w.drawStop(st, false); err != nil {
		tb.Fatal(err)
	}
	return w, st
}

// BenchmarkRedraw measures what a key press costs on a stop already
// received, from the key to the screen written (the target: within one
// frame, 16 ms): a key that moves within the stop (j, k: the stop's
// layout for this size is kept), and one that lays it out anew (a new
// terminal size, or the source switched on: the stop is rendered again).
func BenchmarkRedraw(b *testing.B) {
	for _, size := range [][2]string{{"80", "24"}, {"120", "40"}} {
		b.Run("scroll/"+size[0]+"x"+size[1], func(b *testing.B) {
			w, st := screenWalk(b, size[0], size[1])
			keys := []walkthrough.Key{walkthrough.KeyDown, walkthrough.KeyUp}
			var err error
			i := 0
			for b.Loop() {
				st = walkthrough.Advance(st, keys[i%2])
				if st, err = w.drawStop(st, false); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("layout/"+size[0]+"x"+size[1], func(b *testing.B) {
			w, st := screenWalk(b, size[0], size[1])
			var err error
			for b.Loop() {
				clear(w.views)
				st = walkthrough.Advance(st, walkthrough.KeyDown)
				if st, err = w.drawStop(st, false); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("next-stop/"+size[0]+"x"+size[1], func(b *testing.B) {
			w, st := screenWalk(b, size[0], size[1])
			var err error
			for b.Loop() {
				// g and G: to a stop laid out before, and back.
				for _, k := range []walkthrough.Key{walkthrough.KeyLast, walkthrough.KeyFirst} {
					st = walkthrough.Advance(st, k)
					if st, err = w.drawStop(st, false); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestRedrawDraws checks the benchmark's walk: every stop received, the
// first on screen, and a key that scrolls draws a new screen.
func TestRedrawDraws(t *testing.T) {
	w, st := screenWalk(t, "80", "24")
	if len(st.Stops) != 5 || st.Shown() != 0 || st.Layout.Lines == 0 {
		t.Fatalf("state %+v", st)
	}
	st = walkthrough.Advance(st, walkthrough.KeyDown)
	st, err := w.drawStop(st, false)
	if err != nil || st.Top != 1 || !w.screen.Drawn() {
		t.Fatalf("j: Top=%d, drawn %v, %v", st.Top, w.screen.Drawn(), err)
	}
}
