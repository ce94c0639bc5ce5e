// Package narrate is the driver that runs no process: it reports the stops
// of the release's plan with no observed values, so that the notes can be
// read anywhere (it backs --driver narrate and --dry-run).
package narrate

import (
	"context"
	"fmt"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// Driver reports the stops of a release's plan in order, observing nothing.
type Driver struct {
	opts  walkthrough.DriverOptions
	stops []walkthrough.PlannedStop
	next  int
}

// New returns a narration driver.
func New(opts walkthrough.DriverOptions) *Driver { return &Driver{opts: opts} }

// Name returns "narrate".
func (d *Driver) Name() string { return "narrate" }

// Start takes the stops of the scenario's plan from the release's
// manifest; a narration has no closing check, since it observes nothing.
func (d *Driver) Start(ctx context.Context) error {
	rel := d.opts.Version.Release()
	if rel == nil {
		return fmt.Errorf("narrate: PostgreSQL %q has no release manifest", d.opts.Version.Name)
	}
	plan, err := rel.Plan(d.opts.Scenario)
	if err != nil {
		return fmt.Errorf("narrate: %w", err)
	}
	d.stops = plan.Narrated()
	d.next = 0
	return nil
}

// Next returns the next planned stop, or walkthrough.EOF after the last.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	if err := ctx.Err(); err != nil {
		return walkthrough.Event{}, err
	}
	if d.next >= len(d.stops) {
		return walkthrough.Event{}, walkthrough.EOF
	}
	s := d.stops[d.next]
	d.next++
	return walkthrough.Event{Phase: s.Phase, Process: s.Process, Point: s.At}, nil
}

// Observes returns false: a narration's stops carry no observed values,
// and it has no closing check (walkthrough.Observer).
func (d *Driver) Observes() bool { return false }

// Close does nothing: narration holds no resources.
func (d *Driver) Close() error { return nil }
