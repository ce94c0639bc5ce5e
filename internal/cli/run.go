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
	// built holds the render.Stop of every stop received, in order.
	built []render.Stop
	// firstOfPhase remembers, per connection and phase, the first stop
	// that showed the phase's note.
	firstOfPhase map[string]int
	source       *sourceView
	hint         func() string
	ctx          context.Context
	interactive  bool
	ascii        bool
	// screen is the terminal of an interactive run; views caches its
	// stops laid out for a size, shown is the state last drawn.
	screen       *screen
	views        map[viewKey]*stopView
	shown        *walkthrough.State
	narrowWarned int
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
	w := &walk{opts: opts, notes: notes, firstOfPhase: map[string]int{}, views: map[viewKey]*stopView{}}
	w.interactive = opts.Output == "text" && io.Interactive() && !opts.NoPause
	if w.interactive {
		w.screen = &screen{out: io.Out}
		// However the run ends, the shell's screen comes back.
		defer w.screen.leave()
	}
	// notice says a line now, and on the first screen until the first key.
	notice := func(line string) {
		fmt.Fprintf(io.ErrOut, "pgwalk: %s\n", line)
		if w.screen != nil {
			w.screen.queue(line)
		}
	}
	if opts.Output == "text" {
		var warning string
		if w.renderer, warning, err = newRendererWarning(io, opts.Style, opts.Width); err != nil {
			return err
		}
		if warning != "" {
			notice(warning)
			w.narrowWarned, _ = io.TerminalSize()
		}
		w.ascii = !w.renderer.Color()
		if w.source, err = newSourceView(ctx, opts.Factory, opts.SourceDir, opts.SourceView, opts.Version, w.renderer); err != nil {
			return err
		}
		if msg := w.source.Prefetch(ctx, notes.Notes(opts.Version.Name, annotations.DefaultLang)); msg != "" {
			notice("source lines: " + msg)
		}
	}
	w.ctx = ctx
	if opts.Lang != annotations.DefaultLang && !slices.Contains(notes.Langs(), opts.Lang) {
		notice(fmt.Sprintf("no %q notes yet; showing the English notes", opts.Lang))
	}

	dopts := walkthrough.DriverOptions{
		Version:       opts.Version,
		WaitForClient: opts.WaitFor,
		PGBin:         opts.PGBin,
		Breakpoints:   opts.Breakpoints,
		Notify:        w.say,
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
	if w.screen != nil {
		w.screen.leave()
	}
	if sig := which(); sig != nil {
		return interrupted(io.ErrOut, sig)
	}
	if errors.Is(err, errTerminalGone) {
		// The SIGHUP of the hang-up may not have arrived yet: the
		// terminal is gone either way.
		hungUp = true
		return interrupted(io.ErrOut, syscall.SIGHUP)
	}
	if err == nil || errors.Is(err, errQuit) {
		w.finish(err != nil)
		return nil
	}
	return err
}

func interrupted(errOut io.Writer, sig os.Signal) error {
	fmt.Fprintf(errOut, "pgwalk: %s: stopped and cleaned up\n", sig)
	return SilentExit(signalExit(sig))
}

// newRenderer returns a command's one renderer; it warns on ErrOut when
// the terminal is too narrow to render for.
func newRenderer(io *iostreams.IOStreams, style string, width int) (*render.Renderer, error) {
	r, warning, err := newRendererWarning(io, style, width)
	if warning != "" {
		fmt.Fprintf(io.ErrOut, "pgwalk: %s\n", warning)
	}
	return r, err
}

// newRendererWarning returns the run's one renderer, and a warning when the
// terminal is too narrow to render for.
func newRendererWarning(io *iostreams.IOStreams, style string, width int) (*render.Renderer, string, error) {
	warning := ""
	if width == 0 {
		width = io.TerminalWidth()
		if width < iostreams.MinWidth {
			warning = narrowWarning(width)
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

// narrowWarning says that a terminal of width columns is too narrow.
func narrowWarning(width int) string {
	return fmt.Sprintf("the terminal is %d columns wide; rendering at %d (widen it, or pass --width)", width, iostreams.MinWidth)
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

// loop fetches stops and shows them, following the navigation state. It
// returns nil when the walk is over, errQuit when q ended it.
func (w *walk) loop(ctx context.Context, keys <-chan walkthrough.Key) error {
	if w.interactive {
		return w.loopScreen(ctx, keys)
	}
	var st walkthrough.State
	for {
		if st.NeedStop() {
			ev, err := w.session.Next(ctx)
			switch {
			case walkthrough.IsEOF(err):
				st = st.Ended()
			case err != nil:
				return err
			default:
				if err := w.received(ev); err != nil {
					return err
				}
				st = st.Received(ev.Phase)
			}
		}
		if st.Finished || len(st.Stops) == 0 {
			return nil
		}
		if err := w.print(st.Pos); err != nil {
			return err
		}
		if err := sleep(ctx, w.opts.Delay); err != nil {
			return nil
		}
		st = walkthrough.Advance(st, walkthrough.KeyNextStop)
	}
}

// loopScreen is the loop of an interactive run: one stop at a time on the
// alternate screen, laid out anew when the terminal is resized.
func (w *walk) loopScreen(ctx context.Context, keys <-chan walkthrough.Key) error {
	resize := make(chan struct{}, 1)
	stopResize := w.opts.IO.NotifyResize(resize)
	defer stopResize()
	st := walkthrough.State{Source: w.source != nil && w.source.avail}
	for {
		if st.NeedStop() {
			ev, err := w.next(ctx, keys, resize)
			switch {
			case walkthrough.IsEOF(err):
				st = st.Ended()
			case err != nil:
				return err
			default:
				if err := w.received(ev); err != nil {
					return err
				}
				st = st.Received(ev.Phase)
			}
		}
		if st.Finished || len(st.Stops) == 0 {
			return nil
		}
		var err error
		if st, err = w.drawStop(st); err != nil {
			return err
		}
		k, err := w.key(ctx, keys, resize)
		switch {
		case errors.Is(err, errTerminalGone):
			return err
		case err != nil:
			return nil // a signal: runRun says which
		case k == keyResize:
			continue
		}
		w.screen.clearNotices()
		st = walkthrough.Advance(st, k)
		if k == walkthrough.KeySource && (w.source == nil || !w.source.avail) {
			st.Message = "no source lines: run pgwalk source fetch --version " + w.opts.Version.Name
		}
		if st.Message != "" {
			w.screen.queue(st.Message)
		}
		if st.Quit {
			if st.Interrupted {
				return SilentExit(ExitInterrupt)
			}
			return errQuit
		}
	}
}

// errTerminalGone reports that the terminal's input ended: it was hung up.
var errTerminalGone = errors.New("the terminal went away")

// errQuit reports that the user pressed q.
var errQuit = errors.New("quit")

// keyResize is what key returns when the terminal was resized.
const keyResize walkthrough.Key = "resize"

// next asks the driver for the next stop. Meanwhile q or Ctrl-C abandons
// the wait, and a resized terminal gets the stop on screen laid out anew.
func (w *walk) next(ctx context.Context, keys <-chan walkthrough.Key, resize <-chan struct{}) (walkthrough.Event, error) {
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		ev  walkthrough.Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		ev, err := w.session.Next(nctx)
		got <- result{ev, err}
	}()
	quit := walkthrough.KeyNone
	for {
		select {
		case r := <-got:
			switch quit {
			case walkthrough.KeyInterrupt:
				return r.ev, SilentExit(ExitInterrupt)
			case walkthrough.KeyQuit:
				return r.ev, errQuit
			}
			return r.ev, r.err
		case k, ok := <-keys:
			if !ok {
				keys = nil // hung up: the SIGHUP ends the wait
				continue
			}
			if k == walkthrough.KeyQuit || k == walkthrough.KeyInterrupt {
				quit = k
				cancel()
			}
		case <-resize:
			// Only what was received is drawn: the session is busy.
			if w.shown != nil {
				if _, err := w.drawStop(*w.shown); err != nil {
					cancel()
					<-got
					return walkthrough.Event{}, err
				}
			}
		}
	}
}

// key waits for the next key, for --delay to pass (the next stop), or for
// the terminal to be resized (keyResize).
func (w *walk) key(ctx context.Context, keys <-chan walkthrough.Key, resize <-chan struct{}) (walkthrough.Key, error) {
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
		// --delay advances by stop, not by page.
		return walkthrough.KeyNextStop, nil
	case <-resize:
		return keyResize, nil
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

// received builds the render.Stop of a stop the driver just reported: the
// note is shown at the first stop of each phase of a connection, and the
// stop knows the earlier stops of its connection.
func (w *walk) received(ev walkthrough.Event) error {
	i := len(w.built)
	s := render.Stop{Event: ev, Version: w.opts.Version, Lang: w.opts.Lang, ShowNote: true}
	for _, b := range w.built {
		if b.Event.Connection == ev.Connection {
			s.Earlier = append(s.Earlier, b.Event)
		}
	}
	if ev.Phase != walkthrough.Epilogue {
		n, fell, err := w.notes.Note(w.opts.Version.Name, ev.Phase, w.opts.Lang)
		if err != nil {
			return err
		}
		s.Note, s.FellBack = withStudy(n, ev, w.opts.Version, w.opts.Lang), fell && w.opts.Lang != annotations.DefaultLang
		k := fmt.Sprintf("%d/%s", ev.Connection, ev.Phase)
		if first, ok := w.firstOfPhase[k]; ok && first != i {
			s.ShowNote = false
		} else {
			w.firstOfPhase[k] = i
		}
	}
	w.built = append(w.built, s)
	return nil
}

// print writes stop i off a terminal: plain text, or one line of JSON.
func (w *walk) print(i int) error {
	s := w.built[i]
	out := w.opts.IO.Out
	if w.opts.Output == "json" {
		return render.WriteJSON(out, s)
	}
	head, err := w.renderer.Document(s.HeadMarkdown(w.ascii))
	if err != nil {
		return err
	}
	note, err := w.renderer.Document(s.BodyMarkdown())
	if err != nil {
		return err
	}
	details := ""
	if md := s.DetailsMarkdown(w.ascii); md != "" {
		if details, err = w.renderer.Document(md); err != nil {
			return err
		}
	}
	text := strings.TrimRight(head, "\n") + "\n" + strings.TrimRight(note, "\n") + "\n"
	if details != "" {
		text += strings.TrimRight(details, "\n") + "\n"
	}
	if w.source != nil && s.ShowNote {
		text += "\n" + w.source.Blocks(w.ctx, s.Note)
	}
	if i > 0 {
		fmt.Fprintln(out, strings.Repeat("-", min(w.renderer.Width(), 72)))
	}
	_, err = fmt.Fprint(out, text)
	return err
}

// Layout of a terminal wide enough to show the source beside the note.
const (
	// besideWidth is the narrowest terminal that shows the source beside
	// the note: a note column of 78 and a source column of 80.
	besideWidth = 160
	// sourceColumn is the widest source column: PostgreSQL's lines are
	// at most 80 columns, plus the line numbers.
	sourceColumn = 96
)

// viewKey names a stop laid out for one terminal size.
type viewKey struct {
	pos           int
	source        bool
	width, height int
}

// stopView is a stop laid out for one terminal size.
type stopView struct {
	body    render.Body
	pages   []int
	lastTop int
}

// widths returns the columns of the note's text and of the source on a
// terminal of width columns, and whether the source goes beside the note.
func (w *walk) widths(width int, source bool) (text, src int, beside bool) {
	text = min(width, iostreams.MaxWidth)
	if w.opts.Width > 0 {
		text = w.opts.Width
	}
	text = max(text, iostreams.MinWidth)
	if source && width >= besideWidth {
		src = min(width/2, sourceColumn)
		return min(text, width-src-2), src, true
	}
	return text, text, false
}

// view lays out stop pos for a terminal of width columns with height rows
// for it, once per size.
func (w *walk) view(pos int, source bool, width, height int) (*stopView, error) {
	key := viewKey{pos, source, width, height}
	if v, ok := w.views[key]; ok {
		return v, nil
	}
	s := w.built[pos]
	sourceOn := source && w.source != nil && w.source.avail && s.ShowNote && s.Note != nil
	textW, srcW, beside := w.widths(width, sourceOn)
	r := w.renderer.WithWidth(textW)
	parts := render.StopParts{Beside: beside, TextWidth: textW}
	var err error
	if parts.Head, err = r.Document(s.HeadMarkdown(w.ascii)); err != nil {
		return nil, err
	}
	if parts.Note, err = r.Document(s.BodyMarkdown()); err != nil {
		return nil, err
	}
	if md := s.DetailsMarkdown(w.ascii); md != "" {
		if parts.Details, err = r.Document(md); err != nil {
			return nil, err
		}
	}
	if sourceOn {
		parts.Sources = w.source.WithWidth(srcW).BlockList(w.ctx, s.Note)
	}
	v := &stopView{body: render.Compose(parts)}
	v.pages = v.body.Pages(height, width)
	v.lastTop = v.body.LastTop(height, width)
	if len(w.views) > 64 {
		clear(w.views) // a long resize session: keep the cache small
	}
	w.views[key] = v
	return v, nil
}

// drawStop lays out the stop at st.Pos for the terminal's size now and
// draws it (with the key help over it when asked), and returns st with the
// stop's layout.
func (w *walk) drawStop(st walkthrough.State) (walkthrough.State, error) {
	io := w.opts.IO
	width, height := io.TerminalSize()
	if w.opts.Width == 0 && width < iostreams.MinWidth && w.narrowWarned != width {
		w.narrowWarned = width
		if w.shown != nil { // the first was said when the run began
			w.screen.queue(narrowWarning(width))
		}
	}
	rows := w.screen.BodyRows(width, height)
	v, err := w.view(st.Pos, st.Source, width, rows)
	if err != nil {
		return st, err
	}
	st = st.WithLayout(walkthrough.Layout{Lines: len(v.body.Lines), Pages: v.pages, Breaks: v.body.Breaks(), LastTop: v.lastTop, Values: v.body.Values, Source: v.body.Source})
	lines := v.body.Window(st.Top, v.pages, rows, width)
	if st.Help {
		lines = render.Overlay(lines, render.KeyHelp(w.opts.Lang, w.renderer.Style() == "ascii"), width)
	}
	footer := render.Footer(st, w.built[st.Pos].Heading(), width, w.renderer.Color(), w.renderer.Style() == "ascii", w.opts.Lang)
	w.screen.enter()
	w.screen.draw(lines, footer)
	w.shown = &st
	return st, nil
}

// say shows a driver's line: on the screen while it is up (and on ErrOut
// too when that is not the same terminal), else on ErrOut.
func (w *walk) say(line string) {
	if w.screen != nil && w.screen.noticeIfActive(line) && w.opts.IO.IsStderrTTY() {
		return
	}
	fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", line)
}

// finish reports the end of the run on ErrOut (after the alternate screen
// is gone): how many stops were walked, whether q ended the walk, failed
// checks, and the live driver's hint.
func (w *walk) finish(quit bool) {
	n := len(w.built)
	failed := 0
	for _, s := range w.built {
		for _, c := range s.Event.Values.Checks {
			if !c.OK {
				failed++
			}
		}
	}
	stops := "stops"
	if n == 1 {
		stops = "stop"
	}
	msg := fmt.Sprintf("pgwalk: walked %d %s with the %s driver", n, stops, w.opts.Driver)
	if quit {
		msg += " (ended with q)"
	}
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
