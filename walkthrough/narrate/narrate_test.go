package narrate

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// walk runs a narration of v to the end through a session.
func walk(t *testing.T, v walkthrough.Version, scenario string) []walkthrough.Event {
	t.Helper()
	d := New(walkthrough.DriverOptions{Version: v, Scenario: scenario})
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := walkthrough.NewSession(d, v)
	// A bounded loop: a driver that never ends fails instead of looping.
	for range 64 {
		ev, err := s.Next(ctx)
		if walkthrough.IsEOF(err) {
			return s.Stops()
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != len(s.Stops()) || ev.Version != v.Name || ev.Driver != "narrate" || ev.Connection != 1 || ev.PID != 0 {
			t.Errorf("stop %d stamped %+v", ev.Seq, ev)
		}
		if !slices.Equal(walkthrough.PresentValues(ev.Values), nil) {
			t.Errorf("stop %d observed %v", ev.Seq, walkthrough.PresentValues(ev.Values))
		}
	}
	t.Fatalf("narration did not end after 64 stops")
	return nil
}

func TestNarrateSequence(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		want     []walkthrough.PhaseID
	}{
		{"normal", "", []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration}},
		{"normal by name", walkthrough.ScenarioNormal, []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration}},
		{"fork failure", walkthrough.ScenarioForkFailure, []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.ForkFailure}},
	}
	for _, v := range walkthrough.Versions() {
		for _, tt := range tests {
			t.Run(v.Name+"/"+tt.name, func(t *testing.T) {
				evs := walk(t, v, tt.scenario)
				var got []walkthrough.PhaseID
				for _, ev := range evs {
					got = append(got, ev.Phase)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("phases %v, want %v", got, tt.want)
				}
				plan, err := v.Release().Plan(tt.scenario)
				if err != nil {
					t.Fatal(err)
				}
				if err := plan.Check(evs, false); err != nil {
					t.Error(err)
				}
				for i, ev := range evs {
					if ev.Point != plan.Stops[i].At {
						t.Errorf("stop %d at %q, the plan says %q", i+1, ev.Point, plan.Stops[i].At)
					}
				}
			})
		}
	}
}

// TestNarrateFictionalRelease walks a release that exists only as test
// data (a manifest, notes and facts): no Go code knows it.
func TestNarrateFictionalRelease(t *testing.T) {
	tree, err := annotations.LoadTree(os.DirFS("../testdata/fictional"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := tree.Releases.Lookup("99.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range walkthrough.Scenarios {
		t.Run(sc, func(t *testing.T) {
			evs := walk(t, rel.Version, sc)
			plan, _ := rel.Plan(sc)
			if err := plan.Check(evs, false); err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				n, fell, err := tree.Notes.Note("99.1", ev.Phase, annotations.DefaultLang)
				if err != nil || fell || !strings.Contains(n.Body, "fictional release") {
					t.Errorf("%s: note %v, %v", ev.Phase, n, err)
				}
			}
			if !strings.Contains(evs[0].Point, "palloc0_extended") {
				t.Errorf("struct-creation at %q: the manifest's code point", evs[0].Point)
			}
		})
	}
}

func TestNarrateRefuses(t *testing.T) {
	v, err := walkthrough.LookupVersion("16.4")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts walkthrough.DriverOptions
		want string
	}{
		{"a version with no manifest", walkthrough.DriverOptions{Version: walkthrough.Version{Name: "16.4"}}, "no release manifest"},
		{"an unknown scenario", walkthrough.DriverOptions{Version: v, Scenario: "crash"}, "no plan for scenario \"crash\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts).Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestNarrateHonoursCancel(t *testing.T) {
	v, err := walkthrough.LookupVersion("17.1")
	if err != nil {
		t.Fatal(err)
	}
	d := New(walkthrough.DriverOptions{Version: v})
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := d.Next(ctx); err == nil {
		t.Fatal("Next after cancel must fail")
	}
}
