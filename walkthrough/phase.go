// Package walkthrough is pgwalk's engine: the phases of BackendStartup, the
// versions pgwalk knows, the events a driver reports at each stop, and the
// pure navigation state of an interactive run. It does no I/O.
package walkthrough

import (
	"fmt"
	"strings"
)

// PhaseID names a phase as users type it on the command line.
type PhaseID string

// The phases of BackendStartup, in the order they run, plus the fork-failure
// branch and the closing check that drivers report after the last phase.
const (
	StructCreation     PhaseID = "struct-creation"
	StructInit         PhaseID = "struct-init"
	Fork               PhaseID = "fork"
	Child              PhaseID = "child"
	ParentRegistration PhaseID = "parent-registration"
	ForkFailure        PhaseID = "fork-failure"
	// Epilogue is not a phase of BackendStartup and has no note: it is the
	// stop where a driver reports its cross-checks after the phases ran.
	Epilogue PhaseID = "epilogue"
)

// Phase describes one phase of BackendStartup.
type Phase struct {
	ID PhaseID `json:"id"`
	// Number is the phase's position in the main sequence (1..5), or 0 for
	// the fork-failure branch, which replaces phases 4 and 5 when it runs.
	Number int    `json:"number"`
	Title  string `json:"title"`
	// Summary is one line on what happens in the phase.
	Summary string `json:"summary"`
}

var phases = []Phase{
	{StructCreation, 1, "Struct creation", "the postmaster allocates a Backend record for the new connection"},
	{StructInit, 2, "Struct init", "cancel key, canAcceptConnections, child slot, bgworker_notify"},
	{Fork, 3, "Fork", "the postmaster creates the backend process"},
	{Child, 4, "Child cleanup and start", "the child closes the postmaster's sockets and becomes a backend"},
	{ParentRegistration, 5, "Parent registration", "the postmaster records the child in BackendList"},
	{ForkFailure, 0, "Fork failure", "the process could not be created: slot released, client told"},
}

// MainPhaseCount is the number of phases in the normal sequence.
const MainPhaseCount = 5

// Phases returns every phase: the five of the normal sequence in order, then
// the fork-failure branch.
func Phases() []Phase {
	return append([]Phase(nil), phases...)
}

// PhaseIDs returns the ids of Phases, in the same order.
func PhaseIDs() []string {
	ids := make([]string, len(phases))
	for i, p := range phases {
		ids[i] = string(p.ID)
	}
	return ids
}

// UnknownPhaseError is returned by LookupPhase for a name that is no phase.
type UnknownPhaseError struct{ Name string }

func (e *UnknownPhaseError) Error() string {
	return fmt.Sprintf("unknown phase %q (phases: %s)", e.Name, strings.Join(PhaseIDs(), ", "))
}

// LookupPhase returns the phase named id. It also accepts the phase's number
// ("3") so that a teacher can type what the header shows.
func LookupPhase(id string) (Phase, error) {
	for _, p := range phases {
		if string(p.ID) == id || (p.Number > 0 && fmt.Sprint(p.Number) == id) {
			return p, nil
		}
	}
	return Phase{}, &UnknownPhaseError{Name: id}
}

// PhaseTitle returns the title of id, or id itself when it is not a phase
// (the epilogue has its own title).
func PhaseTitle(id PhaseID) string {
	if id == Epilogue {
		return "Closing check"
	}
	for _, p := range phases {
		if p.ID == id {
			return p.Title
		}
	}
	return string(id)
}
