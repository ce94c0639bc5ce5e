// Package iostreams holds pgwalk's input and output streams and what it
// knows about them: whether they are terminals, whether colour is wanted,
// and how wide the terminal is.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// DefaultWidth is the width used when the terminal's width is unknown.
const DefaultWidth = 80

// DefaultHeight is the height used when the terminal's height is unknown.
const DefaultHeight = 24

// MaxWidth caps the width of rendered notes: longer lines are hard to read.
const MaxWidth = 120

// MinWidth is the narrowest terminal pgwalk renders for.
const MinWidth = 40

// IOStreams are the streams of one pgwalk invocation. Notes go to Out;
// progress and diagnostics go to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// Getenv reads the environment (os.Getenv unless a test replaces it).
	Getenv func(string) string

	stdinTTY, stdoutTTY *bool
	width               int
}

// System returns the streams of the running process.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv}
}

// Test returns streams backed by buffers, neither of them a terminal.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s = &IOStreams{In: in, Out: out, ErrOut: errOut, Getenv: func(string) string { return "" }}
	s.SetStdinTTY(false)
	s.SetStdoutTTY(false)
	return s, in, out, errOut
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// SetStdinTTY overrides the detection of a terminal on In.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = &v }

// SetStdoutTTY overrides the detection of a terminal on Out.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = &v }

// SetWidth overrides the detected terminal width.
func (s *IOStreams) SetWidth(w int) { s.width = w }

// IsStdinTTY reports whether In is a terminal.
func (s *IOStreams) IsStdinTTY() bool {
	if s.stdinTTY != nil {
		return *s.stdinTTY
	}
	return isTerminal(s.In)
}

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool {
	if s.stdoutTTY != nil {
		return *s.stdoutTTY
	}
	return isTerminal(s.Out)
}

// Interactive reports whether pgwalk may wait for keys: both In and Out
// must be terminals.
func (s *IOStreams) Interactive() bool { return s.IsStdinTTY() && s.IsStdoutTTY() }

func (s *IOStreams) getenv(k string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(k)
}

// ColorEnabled reports whether output may carry colour: Out is a terminal
// and NO_COLOR is unset, or CLICOLOR_FORCE is set to something other than 0.
func (s *IOStreams) ColorEnabled() bool {
	if f := s.getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	if s.getenv("NO_COLOR") != "" {
		return false
	}
	return s.IsStdoutTTY()
}

// TerminalWidth returns the width of the terminal on Out, DefaultWidth when
// unknown (COLUMNS is consulted first), capped at MaxWidth.
func (s *IOStreams) TerminalWidth() int {
	w := s.width
	if w == 0 {
		if c, err := strconv.Atoi(s.getenv("COLUMNS")); err == nil && c > 0 {
			w = c
		}
	}
	if w == 0 {
		if f, ok := s.Out.(*os.File); ok {
			if tw, _, err := term.GetSize(int(f.Fd())); err == nil && tw > 0 {
				w = tw
			}
		}
	}
	if w == 0 {
		w = DefaultWidth
	}
	if w > MaxWidth {
		w = MaxWidth
	}
	return w
}

// TerminalSize returns the size of the terminal on Out in columns and
// rows, as the terminal reports it now (a resized terminal reports its new
// size; SetWidth overrides the columns), uncapped; COLUMNS and LINES when
// Out is no terminal; 80x24 when neither says.
func (s *IOStreams) TerminalSize() (width, height int) {
	if f, ok := s.Out.(*os.File); ok {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			width, height = w, h
		}
	}
	if width == 0 {
		if c, err := strconv.Atoi(s.getenv("COLUMNS")); err == nil && c > 0 {
			width = c
		}
	}
	if height == 0 {
		if c, err := strconv.Atoi(s.getenv("LINES")); err == nil && c > 0 {
			height = c
		}
	}
	if s.width != 0 {
		width = s.width
	}
	if width == 0 {
		width = DefaultWidth
	}
	if height == 0 {
		height = DefaultHeight
	}
	return width, height
}

// IsStderrTTY reports whether ErrOut is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return isTerminal(s.ErrOut) }

// TerminalHeight returns the height of the terminal on Out in lines, or 0
// when Out is not a terminal or its size is unknown.
func (s *IOStreams) TerminalHeight() int {
	if c, err := strconv.Atoi(s.getenv("LINES")); err == nil && c > 0 {
		return c
	}
	if f, ok := s.Out.(*os.File); ok {
		if _, h, err := term.GetSize(int(f.Fd())); err == nil {
			return h
		}
	}
	return 0
}

// RawInput switches In, when it is a terminal, to a mode where single key
// presses arrive at once without echo, and returns the function that
// restores it. Output processing and signals stay as they are, so Ctrl-C
// still raises SIGINT and newlines still return the carriage.
func (s *IOStreams) RawInput() (restore func(), err error) {
	f, ok := s.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}, nil
	}
	return cbreak(int(f.Fd()))
}
