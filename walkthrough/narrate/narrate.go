// Package narrate is the driver that runs no process: it reports one stop
// per phase with no observed values, so that the notes can be read anywhere
// (it backs --driver narrate and --dry-run).
package narrate

import (
	"context"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// Driver reports the phases of BackendStartup in order, observing nothing.
type Driver struct {
	opts walkthrough.DriverOptions
	plan []walkthrough.Event
	next int
}

// New returns a narration driver.
func New(opts walkthrough.DriverOptions) *Driver { return &Driver{opts: opts} }

// Name returns "narrate".
func (d *Driver) Name() string { return "narrate" }

// Start plans the stops: the five phases, or, for the fork-failure
// scenario, the first three and the failure branch.
func (d *Driver) Start(ctx context.Context) error {
	ids := []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork}
	if d.opts.Scenario == walkthrough.ScenarioForkFailure {
		ids = append(ids, walkthrough.ForkFailure)
	} else {
		ids = append(ids, walkthrough.Child, walkthrough.ParentRegistration)
	}
	d.plan = d.plan[:0]
	for _, id := range ids {
		proc := walkthrough.Postmaster
		if id == walkthrough.Child {
			proc = walkthrough.Backend
		}
		d.plan = append(d.plan, walkthrough.Event{Phase: id, Process: proc, Point: "narration: no process ran"})
	}
	d.next = 0
	return nil
}

// Next returns the next planned stop, or walkthrough.EOF after the last.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	if err := ctx.Err(); err != nil {
		return walkthrough.Event{}, err
	}
	if d.next >= len(d.plan) {
		return walkthrough.Event{}, walkthrough.EOF
	}
	d.next++
	return d.plan[d.next-1], nil
}

// Close does nothing: narration holds no resources.
func (d *Driver) Close() error { return nil }
