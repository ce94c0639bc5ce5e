//go:build unix

package reenact

import (
	"context"
	"errors"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// BenchmarkRun measures one whole re-enactment (start, every stop, close),
// with no rendering: the mini postmaster, the exec'd backend, the wire
// protocol and the closing check.
func BenchmarkRun(b *testing.B) {
	for _, name := range []string{"16.4", "17.1"} {
		b.Run(name, func(b *testing.B) {
			v := version(b, name)
			b.ReportAllocs()
			for b.Loop() {
				d := New(walkthrough.DriverOptions{Version: v})
				if err := d.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), safety)
				for {
					_, err := d.Next(ctx)
					if errors.Is(err, walkthrough.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				cancel()
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
