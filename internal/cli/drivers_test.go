package cli

import (
	"slices"
	"testing"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestRegistry checks the driver registry: names, the default, summaries in
// every language, capabilities that agree with each other, and drivers
// that answer to their names.
func TestRegistry(t *testing.T) {
	if defaultDriver != "reenact" || DriverNames[0] != defaultDriver {
		t.Errorf("default %q, names %v: the re-enactment is the default, listed first", defaultDriver, DriverNames)
	}
	seen := map[string]bool{}
	for _, d := range Drivers() {
		if seen[d.Name] {
			t.Errorf("%s twice", d.Name)
		}
		seen[d.Name] = true
		for _, lang := range catalog.Langs() {
			if !catalog.Has(lang, d.Summary) {
				t.Errorf("%s: summary %q has no %s text", d.Name, d.Summary, lang)
			}
		}
		if len(d.Caps.Scenarios) == 0 || !slices.Contains(d.Caps.Scenarios, walkthrough.ScenarioNormal) {
			t.Errorf("%s walks no normal run: %v", d.Name, d.Caps.Scenarios)
		}
		for _, sc := range walkthrough.Scenarios {
			why, ok := d.Caps.NoScenario[sc]
			if slices.Contains(d.Caps.Scenarios, sc) {
				if ok {
					t.Errorf("%s walks %s and says why it cannot", d.Name, sc)
				}
				continue
			}
			for _, lang := range catalog.Langs() {
				if !ok || !catalog.Has(lang, why) {
					t.Errorf("%s does not walk %s and does not say why in %s (key %q)", d.Name, sc, lang, why)
				}
			}
		}
		if d.Caps.WaitForClient && !d.Caps.Observes {
			t.Errorf("%s waits for clients but runs no process", d.Name)
		}
		if d.Caps.NeedsPostgres && d.Find == nil {
			t.Errorf("%s needs PostgreSQL and cannot say whether it finds one", d.Name)
		}
		drv, err := newDriver(d.Name, walkthrough.DriverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if drv.Name() != d.Name {
			t.Errorf("the %s entry makes a driver called %s", d.Name, drv.Name())
		}
	}
	if _, err := newDriver("gdb", walkthrough.DriverOptions{}); err == nil {
		t.Error("newDriver(gdb) made a driver")
	}
}

// TestChildMain: the process's arguments hand it to a driver's child only
// when argv[1] is that child's; anything else is a command.
func TestChildMain(t *testing.T) {
	var got []string
	saved := driverRegistry
	t.Cleanup(func() { driverRegistry = saved })
	driverRegistry = append(slices.Clone(saved), DriverInfo{Name: "test", Child: &ChildEntry{Arg: "__test-child", Main: func(args []string) int {
		got = args
		return 3
	}}})
	if code, ok := ChildMain([]string{"pgwalk", "__test-child", "-a", "b"}); !ok || code != 3 || !slices.Equal(got, []string{"-a", "b"}) {
		t.Errorf("child: %d, %v, args %v", code, ok, got)
	}
	for _, args := range [][]string{{"pgwalk"}, {"pgwalk", "run", "__test-child"}, {"pgwalk", "--version"}} {
		if _, ok := ChildMain(args); ok {
			t.Errorf("%v ran a child", args)
		}
	}
}
