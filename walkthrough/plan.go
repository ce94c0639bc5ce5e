package walkthrough

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Narrated returns the stops a driver that observes nothing reports: the
// plan without its closing check.
func (p StopPlan) Narrated() []PlannedStop {
	var out []PlannedStop
	for _, s := range p.Stops {
		if s.Phase != Epilogue {
			out = append(out, s)
		}
	}
	return out
}

// PlanError says how the stops a driver reported differ from the plan.
type PlanError struct {
	// Stop is the 1-based position of the first stop that differs, 0 when
	// the number of stops differs.
	Stop int
	Msg  string
}

func (e *PlanError) Error() string {
	if e.Stop == 0 {
		return "stops differ from the plan: " + e.Msg
	}
	return fmt.Sprintf("stop %d differs from the plan: %s", e.Stop, e.Msg)
}

// Check compares the stops of one connection with p: the same phases in the
// same processes, in the same order. When observed is true (a driver that
// runs processes), the planned closing check must be there too and every
// stop must carry the values the plan names, but for those it says it
// could not observe (Event.Unobserved); a narration reports neither.
func (p StopPlan) Check(stops []Event, observed bool) error {
	want := p.Stops
	if !observed {
		want = p.Narrated()
	}
	if len(stops) != len(want) {
		return &PlanError{Msg: fmt.Sprintf("%d stops (%s), the %s plan has %d (%s)",
			len(stops), eventPhases(stops), p.Scenario, len(want), plannedPhases(want))}
	}
	for i, w := range want {
		ev := stops[i]
		if ev.Phase != w.Phase || ev.Process != w.Process {
			return &PlanError{Stop: i + 1, Msg: fmt.Sprintf("%s in the %s, the plan says %s in the %s (%s)", ev.Phase, ev.Process, w.Phase, w.Process, w.At)}
		}
		if !observed {
			continue
		}
		if missing := ev.Lacks(w.Values); len(missing) > 0 {
			return &PlanError{Stop: i + 1, Msg: fmt.Sprintf("%s (%s) lacks %s", w.Phase, w.Point, strings.Join(missing, ", "))}
		}
		if wrong := UnexpectedValues(ev.Values, w.Expect); len(wrong) > 0 {
			return &PlanError{Stop: i + 1, Msg: fmt.Sprintf("%s (%s) has %s", w.Phase, w.Point, strings.Join(wrong, ", "))}
		}
	}
	return nil
}

// UnexpectedValues compares the values of v that expect names with the
// values it gives them, by their JSON encodings, and says each one that
// differs, in key order: "dead_end false, the plan expects true".
func UnexpectedValues(v Values, expect map[string]any) []string {
	if len(expect) == 0 {
		return nil
	}
	got := map[string]json.RawMessage{}
	if data, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(data, &got)
	}
	keys := make([]string, 0, len(expect))
	for k := range expect {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		want, err := json.Marshal(expect[k])
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		have, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("no %s, the plan expects %s", k, want))
		case string(have) != string(want):
			out = append(out, fmt.Sprintf("%s %s, the plan expects %s", k, have, want))
		}
	}
	return out
}

// PresentValues returns the keys of v that hold a value, as they appear in
// v's JSON encoding.
func PresentValues(v Values) []string {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for _, k := range ValueKeys() {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// MissingValues returns the keys of want that v does not hold.
func MissingValues(v Values, want []string) []string {
	have := PresentValues(v)
	var out []string
	for _, k := range want {
		if !slices.Contains(have, k) {
			out = append(out, k)
		}
	}
	return out
}

// ConnectionStops returns the stops of connection n, in order.
func ConnectionStops(stops []Event, n int) []Event {
	var out []Event
	for _, ev := range stops {
		if ev.Connection == n {
			out = append(out, ev)
		}
	}
	return out
}

func eventPhases(evs []Event) string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = string(ev.Phase)
	}
	return strings.Join(ids, ", ")
}

func plannedPhases(ps []PlannedStop) string {
	ids := make([]string, len(ps))
	for i, s := range ps {
		ids[i] = string(s.Phase)
	}
	return strings.Join(ids, ", ")
}
