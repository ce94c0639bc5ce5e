package cli

import (
	"net"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// validate checks the options that do not depend on the outside world,
// against the chosen driver's capabilities: one validation for every
// driver. changed reports whether a flag was given. Its errors are usage
// errors in the language of --lang (in English while --lang is not one).
func (o *RunOptions) validate(changed func(flag string) bool) error {
	if o.Lang == "" {
		o.Lang = annotations.DefaultLang
	}
	lang := msgLang(o.Lang)
	usage := func(key string, pairs ...any) error { return UsageError(catalog.Errorf(lang, key, pairs...)) }
	if o.DryRun {
		// --dry-run is the driver that runs no process.
		narrator := driverNames(func(d DriverInfo) bool { return !d.Caps.Observes })[0]
		if changed("driver") && o.Driver != narrator {
			return usage("usage.dry_run_driver", "driver", o.Driver)
		}
		o.Driver = narrator
	}
	d, ok := LookupDriver(o.Driver)
	if !ok {
		return UsageError(&UnknownDriverError{Name: o.Driver, Lang: lang})
	}
	if o.Scenario == "" {
		o.Scenario = walkthrough.ScenarioNormal
	}
	if !slices.Contains(walkthrough.Scenarios, o.Scenario) {
		return usage("usage.unknown_scenario", "scenario", o.Scenario, "scenarios", strings.Join(walkthrough.Scenarios, ", "))
	}
	if err := validateOutputFlags(o.Output, o.Lang, o.Style, o.Width); err != nil {
		return err
	}
	if o.Delay < 0 {
		return usage("usage.delay_negative", "delay", o.Delay)
	}
	if o.Delay > 0 && o.NoPause {
		return usage("usage.delay_no_pause")
	}
	if o.WaitFor && !d.Caps.WaitForClient {
		return usage("usage.wait_needs_processes", "driver", d.Name, "drivers", orList(lang, driverNames(func(d DriverInfo) bool { return d.Caps.WaitForClient })))
	}
	if !slices.Contains(d.Caps.Scenarios, o.Scenario) {
		others := driverNames(func(d DriverInfo) bool { return d.Caps.Observes && slices.Contains(d.Caps.Scenarios, o.Scenario) })
		return usage("usage.scenario_unsupported", "driver", d.Name, "scenario", o.Scenario, "why", catalog.S(lang, d.Caps.NoScenario[o.Scenario]), "drivers", orList(lang, others))
	}
	if changed("listen") || changed("port") {
		if !d.Caps.Listen {
			return usage("usage.listen_driver", "driver", d.Name, "drivers", orList(lang, driverNames(func(d DriverInfo) bool { return d.Caps.Listen })))
		}
		if !o.WaitFor {
			return usage("usage.listen_needs_wait")
		}
	}
	if o.Listen != "" && net.ParseIP(o.Listen) == nil {
		return usage("usage.listen_address", "addr", o.Listen)
	}
	if o.Port < 0 || o.Port > 65535 {
		return usage("usage.port_range", "port", o.Port)
	}
	if o.PGBin != "" && !d.Caps.NeedsPostgres {
		return usage("usage.pg_bin_driver", "driver", d.Name, "drivers", orList(lang, driverNames(func(d DriverInfo) bool { return d.Caps.NeedsPostgres })))
	}
	if o.Breakpoints == "" {
		o.Breakpoints = "auto"
	}
	if !slices.Contains(walkthrough.BreakpointModes, o.Breakpoints) {
		return usage("usage.breakpoints_value", "value", o.Breakpoints, "modes", strings.Join(walkthrough.BreakpointModes, ", "))
	}
	if changed("breakpoints") && !d.Caps.Breakpoints {
		return usage("usage.breakpoints_driver", "driver", d.Name, "drivers", orList(lang, driverNames(func(d DriverInfo) bool { return d.Caps.Breakpoints })))
	}
	return validateSourceView(o.SourceView, lang)
}
