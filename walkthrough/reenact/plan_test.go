//go:build unix

package reenact

import (
	"os"
	"testing"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// hasFact reports whether facts hold the fact with catalog key key whose
// argument arg is value.
func hasFact(facts []walkthrough.Fact, key, arg, value string) bool {
	v, ok := findFact(facts, key)
	return ok && v[arg] == value
}

// atIs reports whether ev's point is the catalog message key with (at
// least) the arguments given as name, value pairs.
func atIs(ev walkthrough.Event, key string, pairs ...string) bool {
	if ev.PointKey != key {
		return false
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if ev.PointArgs[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

// walkPlan runs one connection of v's scenario to the end and checks its
// stops against the release's plan, values included.
func walkPlan(t *testing.T, v walkthrough.Version, scenario string) []walkthrough.Event {
	t.Helper()
	d := startDriver(t, walkthrough.DriverOptions{Version: v, Scenario: scenario}, nil)
	evs := runAll(t, d, nil)
	plan, err := v.Release().Plan(scenario)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Check(evs, true); err != nil {
		for _, ev := range evs {
			t.Logf("stop: %s %s %v", ev.Phase, ev.Process, walkthrough.PresentValues(ev.Values))
		}
		t.Fatal(err)
	}
	for _, ev := range evs {
		for _, c := range ev.Values.Checks {
			if !c.OK {
				t.Errorf("%s: check %s failed: %v", ev.Phase, c.Key, c.Args)
			}
		}
	}
	return evs
}

// TestFollowsPlan: for every release it can walk, the re-enactment reports
// exactly the stops of the release's plan, with the planned values.
func TestFollowsPlan(t *testing.T) {
	for _, v := range walkthrough.Versions() {
		if err := Supports(v); err != nil {
			t.Logf("%s: %v", v.Name, err)
			continue
		}
		for _, sc := range walkthrough.Scenarios {
			t.Run(v.Name+"/"+sc, func(t *testing.T) { walkPlan(t, v, sc) })
		}
	}
}

// TestFictionalRelease re-enacts a release that exists only as test data
// (a manifest, notes and facts): its names and its child's order reach the
// stops, the backend process included, with no Go code that knows them.
func TestFictionalRelease(t *testing.T) {
	tree, err := annotations.LoadTree(os.DirFS("../testdata/fictional"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := tree.Releases.Lookup("99.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := walkthrough.LookupVersion("99.1"); err == nil {
		t.Fatal("99.1 must be unknown to the process, or the test proves nothing")
	}
	t.Run("normal", func(t *testing.T) {
		evs := walkPlan(t, rel.Version, "")
		creation, child, reg, epi := evs[0], evs[3], evs[4], evs[5]
		if !atIs(creation, "point.reenact.allocated", "param", "conn", "record", "ChildRecord",
			"allocator", "palloc0_extended(sizeof(ChildRecord), MCXT_ALLOC_NO_OOM)") {
			t.Errorf("struct-creation at %s %v", creation.PointKey, creation.PointArgs)
		}
		if !hasFact(creation.Values.Facts, "fact.reenact.conn_struct", "struct", "ClientConn + ChildStartData") {
			t.Errorf("struct-creation facts %v", creation.Values.Facts)
		}
		if o, _ := findFact(child.Values.Facts, "fact.reenact.child_order"); o["first"] != "InitPostmasterChild" || o["second"] != "ClosePostmasterPorts" {
			t.Errorf("the backend did not follow the manifest's order: %v", child.Values.Facts)
		}
		if !atIs(child, "point.reenact.child", "next", "ClientChildMain -> PostgresMain") {
			t.Errorf("child at %s %v", child.PointKey, child.PointArgs)
		}
		if reg.Values.Backend == nil || reg.Values.Backend.BkendType != "CHILD_CLIENT" {
			t.Errorf("registered %+v, want bkend_type CHILD_CLIENT", reg.Values.Backend)
		}
		if !hasFact(epi.Values.Facts, "fact.reenact.server_version", "version", "99.1 (pgwalk re-enactment)") {
			t.Errorf("the backend did not report 99.1: %v", epi.Values.Facts)
		}
	})
	t.Run("fork-failure", func(t *testing.T) {
		evs := walkPlan(t, rel.Version, walkthrough.ScenarioForkFailure)
		if !hasFact(evs[3].Values.Facts, "fact.reenact.record_freed", "release", "pfree(rec)") {
			t.Errorf("fork-failure facts %v", evs[3].Values.Facts)
		}
	})
}
