package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// RunOptions are the settings of `pgwalk run`.
type RunOptions struct {
	IO       *iostreams.IOStreams
	Factory  *Factory
	Version  walkthrough.Version
	Driver   string
	DryRun   bool
	Scenario string
	WaitFor  bool
	// Listen and Port are where the driver's postmaster listens for TCP
	// clients (--listen, --port): "" is the loopback, 0 a free port.
	Listen    string
	Port      int
	PGBin     string
	NoPause   bool
	Delay     time.Duration
	Style     string
	Width     int
	Output    string
	Lang      string
	NotesDir  string
	SourceDir string
	// SourceView is "auto", "on" or "off".
	SourceView string

	// Breakpoints is the live driver's breakpoint mechanism: auto,
	// hardware or software.
	Breakpoints string
}

// NewCmdRun returns `pgwalk run`. runF replaces the work in tests.
func NewCmdRun(f *Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Factory: f}
	var versionName string
	cmd := &cobra.Command{
		Use:   "run --version V",
		Short: "Walk one real run of BackendStartup, phase by phase",
		Long: strings.TrimSpace(`
Run BackendStartup for real and stop at each phase with its note and the
values observed: pids, the cancel key, the child slot, the file descriptors
the child inherited and closed, the list of children after registration
(BackendList; ActiveChildList in 18.4).

Drivers (--driver):
  reenact  pgwalk's own mini postmaster (the default): real listen sockets,
           a real client connection, a cancel key from the OS's random
           source, a real child process launched the way PostgreSQL's
           EXEC_BACKEND builds launch it, the child closing the sockets it
           inherited, the parent registering the child.
  live     a real PostgreSQL postmaster of that major version, started in a
           throwaway cluster and traced with ptrace (Linux, x86-64).
  narrate  the notes only; no process runs (also --dry-run).

On a terminal pgwalk pauses at every stop, on the terminal's alternate screen
(the shell's screen comes back as it was): the stop's heading and what
happened come first, then the note. Enter, space or n shows the next page,
then goes on; b goes back a page, then to an earlier note (the processes do
not rewind); j/k scroll by line, PgDn/PgUp by page; v jumps to every value
observed, s shows the source lines (beside the note from 160 columns on) or
hides them; g/G first/last note, 1-5 a phase's note; ? shows every key over
the page; q quits. --delay advances by stop. Off a terminal (a pipe, CI) it
never waits for a key and prints plain text; --output json prints one JSON
object per stop instead.

With --wait-for-client, students connect with their own psql (the first
screen, and c at any time, shows the command lines). Every key works while
pgwalk waits for a client; each client that connects is announced (from
where, and over the Unix socket which process), and the footer says how
many wait for the walk to go on. pgwalk listens on 127.0.0.1 unless --listen
says otherwise (0.0.0.0 lets the students' machines in; pgwalk warns once):
a client can send its startup packet and no more, and every query gets an
error.

Exit codes: 0 ok, 1 failure, 2 usage, 130 interrupted (Ctrl-C), 143
terminated, 129 hung up.`),
		Example: strings.Trim(`
  pgwalk run --version 16.4
  pgwalk run --version 17.1 --wait-for-client      # students connect with psql
  pgwalk run --version 17.1 --wait-for-client --listen 0.0.0.0 --port 5499  # from their machines
  pgwalk run --version 16.4 --scenario fork-failure
  pgwalk run --version 16.4 --driver live --pg-bin /usr/lib/postgresql/16/bin
  pgwalk run --version 16.4 --driver live --breakpoints software
  pgwalk run --version 17.1 --output json | jq .values
  pgwalk run --version 16.4 --delay 5s             # auto-advance for a projector`, "\n"),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := lookupVersion(versionName)
			if err != nil {
				return err
			}
			opts.Version = v
			if err := opts.validate(cmd.Flags().Changed); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	fl := cmd.Flags()
	fl.StringVar(&opts.Driver, "driver", defaultDriver, "what makes the phases happen: "+strings.Join(DriverNames, ", "))
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show the notes without running any process (same as --driver narrate)")
	fl.StringVar(&opts.Scenario, "scenario", walkthrough.ScenarioNormal, "branch to walk: "+orList(catalog.DefaultLang, walkthrough.Scenarios))
	fl.BoolVar(&opts.WaitFor, "wait-for-client", false, "wait for outside clients (psql) and walk each connection until q or Ctrl-C")
	fl.StringVar(&opts.Listen, "listen", "", "with --wait-for-client: the address students' psql connects to over TCP (default 127.0.0.1, this machine only; 0.0.0.0 or :: for every address)")
	fl.IntVar(&opts.Port, "port", 0, "with --wait-for-client: the TCP port (and the Unix socket's number) to listen on (default: a free one)")
	fl.StringVar(&opts.PGBin, "pg-bin", "", "directory of the PostgreSQL binaries (live driver)")
	fl.StringVar(&opts.Breakpoints, "breakpoints", "auto", "live driver's breakpoints: auto (debug registers once seen to trap, else int3), hardware or software")
	fl.BoolVar(&opts.NoPause, "no-pause", false, "do not wait for a key at each stop")
	fl.DurationVar(&opts.Delay, "delay", 0, "advance by itself after this long at each stop (for a projector), e.g. 3s")
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	addOutputFlag(cmd, &opts.Output, "output format: text or json (one object per stop)")
	addLangFlag(cmd, &opts.Lang)
	addNotesFlag(cmd, &opts.NotesDir, "read the notes from this directory instead of the built-in ones")
	addSourceFlags(cmd, &opts.SourceDir, &opts.SourceView)
	_ = cmd.RegisterFlagCompletionFunc("driver", cobra.FixedCompletions(DriverNames, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("breakpoints", cobra.FixedCompletions(walkthrough.BreakpointModes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(walkthrough.Scenarios, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runRun walks the release with the chosen driver: it loads the notes,
// starts the driver, shows every stop (on the alternate screen, or as
// text or JSON off a terminal) and says how the run ended.
func runRun(parent context.Context, opts *RunOptions) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, which, stop := signalContext(parent)
	hungUp := false
	defer func() { stop(hungUp) }()

	io, lang := opts.IO, opts.Lang
	info, _ := LookupDriver(opts.Driver)
	var hint func() string
	if info.Caps.Observes && !info.Caps.NeedsPostgres && opts.Output == "text" && io.IsStderrTTY() {
		// A run that needed no PostgreSQL tells the person at the
		// terminal when one is there to trace. The lookup (pg_config,
		// postgres --version) starts first and runs beside the walk; a
		// run whose diagnostics no one reads (a pipe, a file, CI) makes
		// none.
		hint = sync.OnceValue(liveHint(opts.Version, lang))
		// Wait for the lookup however the run ends: the postgres --version
		// it runs must not outlive pgwalk.
		defer hint()
	}
	notes, err := opts.Factory.loadNotesIn(opts.NotesDir, lang)
	if err != nil {
		return err
	}
	w := &walk{opts: opts, notes: notes, ctx: ctx, firstOfPhase: map[string]int{}, views: map[viewKey]*stopView{}, arrivedCh: make(chan struct{}, 1)}
	w.interactive = opts.Output == "text" && io.Interactive() && !opts.NoPause
	if w.interactive {
		w.screen = io.NewScreen(render.Wrap)
		// However the run ends, the shell's screen comes back.
		defer w.screen.Leave()
	}
	if opts.Output == "text" {
		var warning string
		if w.renderer, warning, err = newRendererWarning(io, opts.Style, opts.Width, lang); err != nil {
			return err
		}
		if warning != "" {
			w.notice(warning)
			w.narrowWarned, _ = io.TerminalSize()
		}
		w.ascii = !w.renderer.Color()
		if w.source, err = newSourceView(ctx, opts.Factory, opts.SourceDir, opts.SourceView, opts.Version, w.renderer, lang); err != nil {
			return err
		}
		if msg := w.source.Prefetch(ctx, notes.Notes(opts.Version.Name, annotations.DefaultLang)); msg != "" {
			w.notice(catalog.S(lang, "source.lines", "why", msg))
		}
	}
	if lang != annotations.DefaultLang && !slices.Contains(notes.Langs(), lang) {
		w.notice(catalog.S(lang, "run.no_lang_notes", "lang", lang))
	}
	if warning := listenWarning(opts.Listen, opts.Port, lang); warning != "" {
		w.notice(warning)
	}

	dopts := walkthrough.DriverOptions{
		Version:       opts.Version,
		WaitForClient: opts.WaitFor,
		Listen:        opts.Listen,
		Port:          opts.Port,
		PGBin:         opts.PGBin,
		Breakpoints:   opts.Breakpoints,
		Notify:        w.say,
		Teller:        func(m walkthrough.Msg) { w.say(catalog.Text(lang, m)) },
	}
	if opts.Scenario != walkthrough.ScenarioNormal {
		dopts.Scenario = opts.Scenario
	}
	if opts.WaitFor {
		dopts.Arrived = w.onArrival
	}
	drv, err := opts.Factory.NewDriver(opts.Driver, dopts)
	if err != nil {
		return err
	}
	w.drv, w.caps = drv, info.Caps
	w.errorf("run.start", "version", opts.Version.Name, "tag", opts.Version.Tag, "driver", opts.Driver, "summary", catalog.S(lang, info.Summary))
	defer func() {
		if cerr := drv.Close(); cerr != nil {
			w.errorf("run.cleaning_up", "error", cerr)
		}
	}()
	if removed := cleanStale(); len(removed) > 0 {
		w.errorf("run.removed_stale", "dirs", strings.Join(removed, ", "))
	}
	if err := drv.Start(ctx); err != nil {
		if sig := which(); sig != nil {
			return interrupted(io, lang, sig)
		}
		return catalog.Wrap(lang, err, "run.start_failed", "driver", opts.Driver)
	}
	w.session = walkthrough.NewSession(drv, opts.Version)
	w.hint = hint

	if w.interactive {
		restore, rerr := io.RawInput()
		if rerr != nil {
			return catalog.Wrap(lang, rerr, "run.reading_keys")
		}
		defer restore()
		err = w.loopScreen(ctx, readKeys(io.In))
	} else {
		err = w.loop(ctx)
	}
	if w.screen != nil {
		w.screen.Leave()
	}
	if sig := which(); sig != nil {
		return interrupted(io, lang, sig)
	}
	if errors.Is(err, errTerminalGone) {
		// The SIGHUP of the hang-up may not have arrived yet: the
		// terminal is gone either way.
		hungUp = true
		return interrupted(io, lang, syscall.SIGHUP)
	}
	if err == nil || errors.Is(err, errQuit) {
		w.finish(err != nil)
		return nil
	}
	return err
}

// newRenderer returns a command's one renderer; it warns on ErrOut when
// the terminal is too narrow to render for.
func newRenderer(io *iostreams.IOStreams, style string, width int) (*render.Renderer, error) {
	return newRendererIn(io, style, width, catalog.DefaultLang)
}

// newRendererIn is newRenderer with its warning in lang.
func newRendererIn(io *iostreams.IOStreams, style string, width int, lang string) (*render.Renderer, error) {
	r, warning, err := newRendererWarning(io, style, width, lang)
	if warning != "" {
		fmt.Fprintf(io.ErrOut, "pgwalk: %s\n", warning)
	}
	return r, err
}

// newRendererWarning returns the run's one renderer, and a warning in lang
// when the terminal is too narrow to render for.
func newRendererWarning(io *iostreams.IOStreams, style string, width int, lang string) (*render.Renderer, string, error) {
	warning := ""
	if width == 0 {
		width = io.TerminalWidth()
		if width < iostreams.MinWidth {
			warning = narrowWarning(width, lang)
			width = iostreams.MinWidth
		}
	}
	color := io.ColorEnabled()
	if style == "notty" || style == "ascii" {
		color = false
	}
	r, err := render.New(render.Options{Style: style, Width: width, Color: color, TrueColor: io.Getenv != nil && io.Getenv("COLORTERM") == "truecolor"})
	return r, warning, err
}

// narrowWarning says in lang that a terminal of width columns is too
// narrow.
func narrowWarning(width int, lang string) string {
	return catalog.S(lang, "run.narrow", "width", width, "min", iostreams.MinWidth)
}
