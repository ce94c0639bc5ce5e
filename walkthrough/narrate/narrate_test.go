package narrate

import (
	"context"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestNarrateSequence(t *testing.T) {
	v, _ := walkthrough.LookupVersion("16.4")
	tests := []struct {
		name     string
		scenario string
		want     []walkthrough.PhaseID
	}{
		{"normal", "", []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration}},
		{"fork failure", walkthrough.ScenarioForkFailure, []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.ForkFailure}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(walkthrough.DriverOptions{Version: v, Scenario: tt.scenario})
			ctx := context.Background()
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			s := walkthrough.NewSession(d, v)
			var got []walkthrough.PhaseID
			// At most one stop more than wanted: a driver that never
			// ends fails below instead of looping.
			for len(got) <= len(tt.want) {
				ev, err := s.Next(ctx)
				if walkthrough.IsEOF(err) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if ev.Seq != len(got)+1 || ev.Version != "16.4" || ev.Driver != "narrate" || ev.Connection != 1 {
					t.Errorf("stop %d stamped %+v", len(got)+1, ev)
				}
				got = append(got, ev.Phase)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("phases %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("phases %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestNarrateHonoursCancel(t *testing.T) {
	d := New(walkthrough.DriverOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	_ = d.Start(ctx)
	cancel()
	if _, err := d.Next(ctx); err == nil {
		t.Fatal("Next after cancel must fail")
	}
}
