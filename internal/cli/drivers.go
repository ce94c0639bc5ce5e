package cli

import (
	"errors"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live"
	"github.com/pgwalk/pgwalk/walkthrough/narrate"
	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// DriverInfo is one driver of the registry: what `run` needs to know about
// a driver before it starts it. Every driver package is named here, and
// only here.
type DriverInfo struct {
	// Name is the driver's name as users type it (--driver).
	Name string
	// Summary is the catalog key of what the driver runs, in a few words.
	Summary string
	Caps    Capabilities
	// New returns the driver for opts; nothing runs before Start.
	New func(opts walkthrough.DriverOptions) walkthrough.Driver
	// Cleanup removes what runs of this driver that were killed (SIGKILL,
	// a crash) left behind, under tmpdir's safety rules; it returns what
	// it removed. nil when the driver leaves nothing, or cleans up after
	// killed runs itself.
	Cleanup func() ([]string, error)
	// Child is the entry of the process the driver starts by
	// re-executing pgwalk's own binary as `pgwalk <Child.Arg> ...`; nil
	// when it starts none.
	Child *ChildEntry
	// Find says whether the driver can run for v on this machine, and
	// what it would use ("PostgreSQL 16.4 (/usr/lib/postgresql/16/bin/postgres)");
	// nil when it can always run.
	Find func(v walkthrough.Version) (found, bin string, err error)
}

// Capabilities are what a driver can do, for the CLI to check the flags
// against, once for every driver.
type Capabilities struct {
	// Scenarios are the scenarios it walks; NoScenario gives, for each
	// of the others, the catalog key of why it cannot walk it.
	Scenarios  []string
	NoScenario map[string]string
	// Observes is set for a driver that runs processes and reports what
	// it saw (not narration).
	Observes bool
	// WaitForClient: it can wait for outside clients (--wait-for-client).
	WaitForClient bool
	// Listen: it listens for those clients itself, where --listen and
	// --port say.
	Listen bool
	// NeedsPostgres: it runs a PostgreSQL server binary (--pg-bin).
	NeedsPostgres bool
	// Breakpoints: it sets breakpoints (--breakpoints).
	Breakpoints bool
}

// ChildEntry is how pgwalk's main hands the process over to a driver's
// child: argv[1] is Arg, and Main runs with the arguments after it.
type ChildEntry struct {
	Arg  string
	Main func(args []string) int
}

// driverRegistry is every driver, in the order --help lists them; the
// first is the default.
var driverRegistry = []DriverInfo{
	{
		Name:    "reenact",
		Summary: "driver.reenact.summary",
		Caps: Capabilities{
			Scenarios:     walkthrough.Scenarios,
			Observes:      true,
			WaitForClient: true,
			Listen:        true,
		},
		New: func(o walkthrough.DriverOptions) walkthrough.Driver { return reenact.New(o) },
		// Its private directories, and the cgroups of fork-failure
		// runs (Linux, where pgwalk may make one).
		Cleanup: func() ([]string, error) {
			// The live driver's directories share the prefix; its own
			// sweep ends their servers first.
			dirs, err := tmpdir.Sweeper{Prefix: tmpdir.Prefix, Except: []string{live.RunPrefix}}.Sweep()
			cgroups, cerr := reenact.SweepCgroups()
			return append(dirs, cgroups...), errors.Join(err, cerr)
		},
		Child: &ChildEntry{Arg: reenact.ChildCommand, Main: reenact.ChildMain},
	},
	{
		Name:    "live",
		Summary: "driver.live.summary",
		Caps: Capabilities{
			Scenarios: []string{walkthrough.ScenarioNormal},
			NoScenario: map[string]string{
				walkthrough.ScenarioForkFailure:    "driver.live.no_fork_failure",
				walkthrough.ScenarioTooManyClients: "driver.live.no_too_many_clients",
			},
			Observes:      true,
			WaitForClient: true,
			NeedsPostgres: true,
			Breakpoints:   true,
		},
		New: func(o walkthrough.DriverOptions) walkthrough.Driver { return live.New(o) },
		// Its run directories (under the same rules as the
		// re-enactment's), with the servers still running there and
		// their shared memory.
		Cleanup: live.CleanStale,
		Find: func(v walkthrough.Version) (string, string, error) {
			if err := live.Supported(); err != nil {
				return "", "", err
			}
			bin, found, err := live.FindPostgres("", v)
			return found, bin, err
		},
	},
	{
		Name:    "narrate",
		Summary: "driver.narrate.summary",
		Caps:    Capabilities{Scenarios: walkthrough.Scenarios},
		New:     func(o walkthrough.DriverOptions) walkthrough.Driver { return narrate.New(o) },
	},
}

// Drivers returns the registry: every driver pgwalk has, the default first.
func Drivers() []DriverInfo { return slices.Clone(driverRegistry) }

// LookupDriver returns the driver called name.
func LookupDriver(name string) (DriverInfo, bool) {
	for _, d := range driverRegistry {
		if d.Name == name {
			return d, true
		}
	}
	return DriverInfo{}, false
}

// DriverNames lists the values of --driver.
var DriverNames = driverNames(func(DriverInfo) bool { return true })

// defaultDriver is the driver run uses unless told otherwise.
var defaultDriver = driverRegistry[0].Name

// driverNames returns the names of the drivers that have what keep asks.
func driverNames(keep func(DriverInfo) bool) []string {
	var out []string
	for _, d := range driverRegistry {
		if keep(d) {
			out = append(out, d.Name)
		}
	}
	return out
}

// orList joins names in lang as "a or b" ("a, b or c").
func orList(lang string, names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return catalog.S(lang, "list.or", "first", strings.Join(names[:len(names)-1], ", "), "last", names[len(names)-1])
}

// newDriver returns the driver called name.
func newDriver(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error) {
	d, ok := LookupDriver(name)
	if !ok {
		return nil, UsageError(&UnknownDriverError{Name: name})
	}
	return d.New(opts), nil
}

// ChildMain runs the child process of a driver when args (the process's
// arguments, args[0] the program) ask for one, and returns its exit code
// and true; otherwise it returns false and pgwalk runs as a command.
// pgwalk's main calls it first, before any command is built.
func ChildMain(args []string) (int, bool) {
	if len(args) < 2 {
		return 0, false
	}
	for _, d := range driverRegistry {
		if d.Child != nil && args[1] == d.Child.Arg {
			return d.Child.Main(args[2:]), true
		}
	}
	return 0, false
}

// cleanStale runs every driver's cleanup of what killed runs left, and
// returns what was removed.
func cleanStale() []string {
	var removed []string
	for _, d := range driverRegistry {
		if d.Cleanup == nil {
			continue
		}
		r, _ := d.Cleanup()
		removed = append(removed, r...)
	}
	return removed
}

// liveHint looks, in the background, for a driver that traces a real
// PostgreSQL and can run for v here, and returns a function that gives the
// one-line hint in lang once the lookup is done ("" when there is nothing
// to say).
func liveHint(v walkthrough.Version, lang string) func() string {
	ch := make(chan string, 1)
	go func() {
		for _, d := range driverRegistry {
			if !d.Caps.NeedsPostgres || d.Find == nil {
				continue
			}
			found, bin, err := d.Find(v)
			if err != nil {
				continue
			}
			ch <- catalog.S(lang, "run.hint_live", "found", found, "bin", bin, "version", v.Name, "driver", d.Name)
			return
		}
		ch <- ""
	}()
	return func() string { return <-ch }
}
