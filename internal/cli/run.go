package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// RunOptions are the settings of `pgwalk run`.
type RunOptions struct {
	IO        *iostreams.IOStreams
	Factory   *Factory
	Version   walkthrough.Version
	Driver    string
	DryRun    bool
	Scenario  string
	WaitFor   bool
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
the child inherited and closed, the BackendList after registration.

Drivers (--driver):
  reenact  pgwalk's own mini postmaster (the default): real listen sockets,
           a real client connection, a cancel key from the OS's random
           source, a real child process launched the way PostgreSQL's
           EXEC_BACKEND builds launch it, the child closing the sockets it
           inherited, the parent registering the child.
  live     a real PostgreSQL postmaster of that major version, started in a
           throwaway cluster and traced with ptrace (Linux, x86-64).
  narrate  the notes only; no process runs (also --dry-run).

On a terminal pgwalk pauses at every stop: Enter, space or n goes on, b goes
back to an earlier note (the processes do not rewind), g/G first/last note,
1-5 jump to a phase's note, s toggles the source lines, ? shows the keys, q
quits. Off a terminal (a pipe, CI) it never waits for a key and prints plain
text; --output json prints one JSON object per stop instead.

Exit codes: 0 ok, 1 failure, 2 usage, 130 interrupted (Ctrl-C), 143
terminated, 129 hung up.`),
		Example: strings.Trim(`
  pgwalk run --version 16.4
  pgwalk run --version 17.1 --wait-for-client      # students connect with psql
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
			if err := opts.validate(cmd); err != nil {
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
	fl.StringVar(&opts.Scenario, "scenario", "normal", "branch to walk: normal or fork-failure")
	fl.BoolVar(&opts.WaitFor, "wait-for-client", false, "wait for outside clients (psql) and walk each connection until q or Ctrl-C")
	fl.StringVar(&opts.PGBin, "pg-bin", "", "directory of the PostgreSQL binaries (live driver)")
	fl.StringVar(&opts.Breakpoints, "breakpoints", "auto", "live driver's breakpoints: auto (debug registers once seen to trap, else int3), hardware or software")
	fl.BoolVar(&opts.NoPause, "no-pause", false, "do not wait for a key at each stop")
	fl.DurationVar(&opts.Delay, "delay", 0, "advance by itself after this long at each stop (for a projector), e.g. 3s")
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json (one object per stop)")
	addLangFlag(cmd, &opts.Lang)
	addNotesFlag(cmd, &opts.NotesDir, "read the notes from this directory instead of the built-in ones")
	fl.StringVar(&opts.SourceDir, "source", "", "PostgreSQL source tree or git clone to show the cited lines from")
	fl.StringVar(&opts.SourceView, "source-view", "auto", "show source lines: auto (when available), on, off")
	_ = cmd.RegisterFlagCompletionFunc("driver", cobra.FixedCompletions(DriverNames, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("breakpoints", cobra.FixedCompletions(walkthrough.BreakpointModes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(walkthrough.Scenarios, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("source-view", cobra.FixedCompletions([]string{"auto", "on", "off"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// validate checks the options that do not depend on the outside world.
func (o *RunOptions) validate(cmd *cobra.Command) error {
	if o.DryRun {
		if cmd.Flags().Changed("driver") && o.Driver != "narrate" {
			return UsageError(fmt.Errorf("--dry-run runs no process and cannot be combined with --driver %s", o.Driver))
		}
		o.Driver = "narrate"
	}
	if !slices.Contains(DriverNames, o.Driver) {
		return UsageError(&UnknownDriverError{Name: o.Driver})
	}
	if o.Scenario == "" {
		o.Scenario = "normal"
	}
	if !slices.Contains(walkthrough.Scenarios, o.Scenario) {
		return UsageError(fmt.Errorf("unknown scenario %q (scenarios: %s)", o.Scenario, strings.Join(walkthrough.Scenarios, ", ")))
	}
	if o.Lang == "" {
		o.Lang = annotations.DefaultLang
	}
	if err := validateOutputFlags(o.Output, o.Lang, o.Style, o.Width); err != nil {
		return err
	}
	if o.Delay < 0 {
		return UsageError(fmt.Errorf("--delay %s: must not be negative", o.Delay))
	}
	if o.Delay > 0 && o.NoPause {
		return UsageError(errors.New("--delay and --no-pause conflict: --delay already advances by itself"))
	}
	if o.WaitFor && o.Driver == "narrate" {
		return UsageError(errors.New("--wait-for-client needs a driver that runs processes (reenact or live), not narrate"))
	}
	if o.WaitFor && o.Scenario == walkthrough.ScenarioForkFailure {
		return UsageError(errors.New("--wait-for-client and --scenario fork-failure conflict: the failure scenario uses pgwalk's own client"))
	}
	if o.Driver == "live" && o.Scenario == walkthrough.ScenarioForkFailure {
		return UsageError(errors.New(`--driver live cannot run --scenario fork-failure: it traces what a real server does (use --driver reenact)`))
	}
	if o.PGBin != "" && o.Driver != "live" {
		return UsageError(fmt.Errorf("--pg-bin is for --driver live (the %s driver runs no PostgreSQL)", o.Driver))
	}
	if o.Breakpoints == "" {
		o.Breakpoints = "auto"
	}
	if !slices.Contains(walkthrough.BreakpointModes, o.Breakpoints) {
		return UsageError(fmt.Errorf("--breakpoints %q: use %s", o.Breakpoints, strings.Join(walkthrough.BreakpointModes, ", ")))
	}
	if cmd.Flags().Changed("breakpoints") && o.Driver != "live" {
		return UsageError(fmt.Errorf("--breakpoints is for --driver live (the %s driver sets no breakpoints)", o.Driver))
	}
	if o.SourceView != "auto" && o.SourceView != "on" && o.SourceView != "off" {
		return UsageError(fmt.Errorf("--source-view %q: use auto, on or off", o.SourceView))
	}
	if o.Lang == "" {
		o.Lang = annotations.DefaultLang
	}
	return nil
}

// signalExit maps the signal that ended a run to its exit code.
func signalExit(sig os.Signal) ExitCode {
	switch sig {
	case syscall.SIGTERM:
		return ExitTerm
	case syscall.SIGHUP:
		return ExitHangup
	}
	return ExitInterrupt
}

// signalContext returns a context cancelled by SIGINT, SIGTERM or SIGHUP,
// a function that reports which signal arrived (nil if none), and the
// function that ends the watch. stop(true), or stop after a signal, keeps
// the signals caught: pgwalk is about to exit, and a late one (a hang-up
// signals twice) must not turn exit code 129, 130 or 143 into a death by
// signal. (signal.Ignore would not do: a signal from the kernel that lands
// while Ignore switches the handler still kills the process.)
func signalContext(parent context.Context) (context.Context, func() os.Signal, func(exiting bool)) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	got := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			got <- s
			cancel()
		case <-done:
		}
	}()
	which := func() os.Signal {
		select {
		case s := <-got:
			got <- s
			return s
		default:
			return nil
		}
	}
	stop := func(exiting bool) {
		if !exiting && which() == nil {
			signal.Stop(ch)
		}
		close(done)
		cancel()
	}
	return ctx, which, stop
}

// walk is the state of one run of `pgwalk run`.
type walk struct {
	opts     *RunOptions
	notes    *annotations.Set
	renderer *render.Renderer
	session  *walkthrough.Session
	// firstOfPhase remembers, per connection and phase, the first stop
	// that showed the phase's note.
	firstOfPhase map[string]int
	source       *sourceView
	hint         func() string
	ctx          context.Context
	interactive  bool
	ascii        bool
}

func runRun(parent context.Context, opts *RunOptions) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, which, stop := signalContext(parent)
	hungUp := false
	defer func() { stop(hungUp) }()

	io := opts.IO
	notes, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	w := &walk{opts: opts, notes: notes, firstOfPhase: map[string]int{}}
	w.interactive = opts.Output == "text" && io.Interactive() && !opts.NoPause
	if opts.Output == "text" {
		if w.renderer, err = newRenderer(io, opts.Style, opts.Width); err != nil {
			return err
		}
		w.ascii = !w.renderer.Color()
		w.source = newSourceView(ctx, opts.Factory, opts.SourceDir, opts.SourceView, opts.Version, w.renderer)
		w.source.Prefetch(ctx, notes.Notes(opts.Version.Name, annotations.DefaultLang))
	}
	w.ctx = ctx
	if opts.Lang != annotations.DefaultLang && !slices.Contains(notes.Langs(), opts.Lang) {
		fmt.Fprintf(io.ErrOut, "pgwalk: no %q notes yet; showing the English notes\n", opts.Lang)
	}

	dopts := walkthrough.DriverOptions{
		Version:       opts.Version,
		WaitForClient: opts.WaitFor,
		PGBin:         opts.PGBin,
		Breakpoints:   opts.Breakpoints,
		Notify:        func(line string) { fmt.Fprintf(io.ErrOut, "pgwalk: %s\n", line) },
	}
	if opts.Scenario != "normal" {
		dopts.Scenario = opts.Scenario
	}
	drv, err := opts.Factory.NewDriver(opts.Driver, dopts)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.ErrOut, "pgwalk: PostgreSQL %s (%s) · driver %s: %s\n", opts.Version.Name, opts.Version.Tag, opts.Driver, driverSummary[opts.Driver])
	defer func() {
		if cerr := drv.Close(); cerr != nil {
			fmt.Fprintf(io.ErrOut, "pgwalk: cleaning up: %s\n", cerr)
		}
	}()
	if removed, _ := tmpdir.CleanStale(tmpdir.Prefix); len(removed) > 0 {
		fmt.Fprintf(io.ErrOut, "pgwalk: removed what killed runs left behind: %s\n", strings.Join(removed, ", "))
	}
	if err := drv.Start(ctx); err != nil {
		if sig := which(); sig != nil {
			return interrupted(io.ErrOut, sig)
		}
		return fmt.Errorf("starting the %s driver: %w", opts.Driver, err)
	}
	w.session = walkthrough.NewSession(drv, opts.Version)
	if opts.Driver == "reenact" && opts.Output == "text" {
		w.hint = sync.OnceValue(liveHint(opts.Version))
		// Wait for the lookup however the run ends: the postgres --version
		// it runs must not outlive pgwalk.
		defer w.hint()
	}

	var keys <-chan walkthrough.Key
	if w.interactive {
		restore, err := io.RawInput()
		if err != nil {
			return fmt.Errorf("reading keys from the terminal: %w", err)
		}
		defer restore()
		keys = readKeys(io.In)
	}
	err = w.loop(ctx, keys)
	if sig := which(); sig != nil {
		return interrupted(io.ErrOut, sig)
	}
	if errors.Is(err, errTerminalGone) {
		// The SIGHUP of the hang-up may not have arrived yet: the
		// terminal is gone either way.
		hungUp = true
		return interrupted(io.ErrOut, syscall.SIGHUP)
	}
	return err
}

func interrupted(errOut io.Writer, sig os.Signal) error {
	fmt.Fprintf(errOut, "pgwalk: %s: stopped and cleaned up\n", sig)
	return SilentExit(signalExit(sig))
}

// newRenderer returns the run's one renderer.
func newRenderer(io *iostreams.IOStreams, style string, width int) (*render.Renderer, error) {
	if width == 0 {
		width = io.TerminalWidth()
		if width < iostreams.MinWidth {
			fmt.Fprintf(io.ErrOut, "pgwalk: the terminal is %d columns wide; rendering at %d (widen it, or pass --width)\n", width, iostreams.MinWidth)
			width = iostreams.MinWidth
		}
	}
	color := io.ColorEnabled()
	if style == "notty" || style == "ascii" {
		color = false
	}
	return render.New(render.Options{Style: style, Width: width, Color: color, TrueColor: io.Getenv != nil && io.Getenv("COLORTERM") == "truecolor"})
}

// readKeys decodes key presses from in until it fails.
func readKeys(in io.Reader) <-chan walkthrough.Key {
	ch := make(chan walkthrough.Key)
	go func() {
		defer close(ch)
		buf := make([]byte, 16)
		for {
			n, err := in.Read(buf)
			for _, k := range walkthrough.DecodeKeys(buf[:n]) {
				ch <- k
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// loop fetches stops and shows them, following the navigation state.
func (w *walk) loop(ctx context.Context, keys <-chan walkthrough.Key) error {
	st := walkthrough.State{Source: w.source != nil && w.source.avail}
	shown := -1
	for {
		if st.NeedStop() {
			ev, err := w.next(ctx, keys)
			switch {
			case walkthrough.IsEOF(err):
				st = st.Ended()
			case errors.Is(err, errQuit):
				return nil
			case err != nil:
				return err
			default:
				st = st.Received(ev.Phase)
			}
		}
		if st.Finished || len(st.Stops) == 0 {
			w.finish()
			return nil
		}
		if !w.interactive {
			if st.Pos != shown {
				if _, err := w.show(st); err != nil {
					return err
				}
				shown = st.Pos
				if err := sleep(ctx, w.opts.Delay); err != nil {
					return nil
				}
			}
			st = walkthrough.Advance(st, walkthrough.KeyNext)
			continue
		}
		pages, err := w.show(st)
		if err != nil {
			return err
		}
		st = st.WithPages(pages)
		k, err := w.key(ctx, keys)
		if errors.Is(err, errTerminalGone) {
			return err
		}
		if err != nil {
			return nil
		}
		st = walkthrough.Advance(st, k)
		if k == walkthrough.KeySource && (w.source == nil || !w.source.avail) {
			st.Message = "no source lines: run pgwalk source fetch --version " + w.opts.Version.Name
		}
		if st.Quit {
			if st.Interrupted {
				return SilentExit(ExitInterrupt)
			}
			return nil
		}
	}
}

// errTerminalGone reports that the terminal's input ended: it was hung up.
var errTerminalGone = errors.New("the terminal went away")

// errQuit reports that the user pressed q while the driver was running.
var errQuit = errors.New("quit")

// next asks the driver for the next stop; on a terminal, q or Ctrl-C
// pressed meanwhile abandons the wait.
func (w *walk) next(ctx context.Context, keys <-chan walkthrough.Key) (walkthrough.Event, error) {
	if keys == nil {
		return w.session.Next(ctx)
	}
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	quit := make(chan walkthrough.Key, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case k, ok := <-keys:
				if !ok {
					return
				}
				if k == walkthrough.KeyQuit || k == walkthrough.KeyInterrupt {
					quit <- k
					cancel()
					return
				}
			case <-stop:
				return
			}
		}
	}()
	ev, err := w.session.Next(nctx)
	close(stop)
	select {
	case k := <-quit:
		if k == walkthrough.KeyInterrupt {
			return ev, SilentExit(ExitInterrupt)
		}
		return ev, errQuit
	default:
	}
	return ev, err
}

// key waits for the next key, or for --delay to pass.
func (w *walk) key(ctx context.Context, keys <-chan walkthrough.Key) (walkthrough.Key, error) {
	var tick <-chan time.Time
	if w.opts.Delay > 0 {
		t := time.NewTimer(w.opts.Delay)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ctx.Done():
		return walkthrough.KeyNone, ctx.Err()
	case k, ok := <-keys:
		if !ok {
			// A terminal's input ends only when it is hung up (closed).
			return walkthrough.KeyNone, errTerminalGone
		}
		return k, nil
	case <-tick:
		return walkthrough.KeyNext, nil
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stopAt builds the render.Stop of the stop at index i.
func (w *walk) stopAt(i int) (render.Stop, error) {
	ev := w.session.Stops()[i]
	s := render.Stop{Event: ev, Version: w.opts.Version, Lang: w.opts.Lang, ShowNote: true}
	if ev.Phase == walkthrough.Epilogue {
		return s, nil
	}
	n, fell, err := w.notes.Note(w.opts.Version.Name, ev.Phase, w.opts.Lang)
	if err != nil {
		return s, err
	}
	s.Note, s.FellBack = withStudy(n, ev, w.opts.Version, w.opts.Lang), fell && w.opts.Lang != annotations.DefaultLang
	k := fmt.Sprintf("%d/%s", ev.Connection, ev.Phase)
	if first, ok := w.firstOfPhase[k]; ok && first != i {
		s.ShowNote = false
	} else {
		w.firstOfPhase[k] = i
	}
	return s, nil
}

// show writes the stop at st.Pos and returns how many pages it has. On a
// terminal a stop taller than the screen is shown one page at a time.
func (w *walk) show(st walkthrough.State) (int, error) {
	s, err := w.stopAt(st.Pos)
	if err != nil {
		return 0, err
	}
	out := w.opts.IO.Out
	if w.opts.Output == "json" {
		return 1, render.WriteJSON(out, s)
	}
	text, err := w.renderer.Document(s.Markdown(w.ascii))
	if err != nil {
		return 0, err
	}
	if st.Source && s.ShowNote && w.source != nil {
		text += w.source.Blocks(w.ctx, s.Note)
	}
	if !w.interactive {
		if st.Pos > 0 {
			fmt.Fprintln(out, strings.Repeat("-", min(w.renderer.Width(), 72)))
		}
		_, err = fmt.Fprint(out, text)
		return 1, err
	}
	if st.Help {
		text += render.KeyHelp()
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	height := w.opts.IO.TerminalHeight() - 2
	pages := 1
	if height >= 5 && len(lines) > height {
		pages = (len(lines) + height - 1) / height
		page := min(st.Page, pages-1)
		lines = lines[page*height : min((page+1)*height, len(lines))]
		for len(lines) < height {
			lines = append(lines, "")
		}
	}
	fmt.Fprint(out, "\x1b[H\x1b[2J")
	fmt.Fprintln(out, strings.Join(lines, "\n"))
	st = st.WithPages(pages)
	fmt.Fprintln(out, render.Footer(st, s.Heading(), w.opts.IO.TerminalWidth(), w.renderer.Color()))
	return pages, nil
}

// finish reports the end of the run on ErrOut.
func (w *walk) finish() {
	n := len(w.session.Stops())
	failed := 0
	for _, ev := range w.session.Stops() {
		for _, c := range ev.Values.Checks {
			if !c.OK {
				failed++
			}
		}
	}
	msg := fmt.Sprintf("pgwalk: walked %d stops with the %s driver", n, w.opts.Driver)
	if failed > 0 {
		msg += fmt.Sprintf("; %d checks FAILED", failed)
	}
	fmt.Fprintln(w.opts.IO.ErrOut, msg)
	if w.hint != nil {
		if h := w.hint(); h != "" {
			fmt.Fprintln(w.opts.IO.ErrOut, "pgwalk: "+h)
		}
	}
}
