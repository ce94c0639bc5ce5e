// Package render is pgwalk's one rendering layer: it turns notes and stops
// into Markdown, Markdown into terminal text through one glamour renderer,
// and stops into JSON.
package render

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/glamour/styles"
	"github.com/muesli/termenv"
)

// Styles lists the values of --style.
var Styles = []string{"auto", "dark", "light", "notty", "ascii"}

// Options configure a Renderer.
type Options struct {
	// Style is one of Styles; "auto" picks dark when colour is enabled
	// and notty otherwise.
	Style string
	// Width is the word-wrap width in columns.
	Width int
	// Color enables ANSI colour.
	Color bool
	// TrueColor selects 24-bit colour when Color is set.
	TrueColor bool
}

// Renderer renders Markdown for a terminal. Create one per run and reuse it.
type Renderer struct {
	tr    *glamour.TermRenderer
	style string
	width int
	color bool
}

// StyleError is returned for an unknown --style value.
type StyleError struct{ Style string }

func (e *StyleError) Error() string {
	return fmt.Sprintf("unknown style %q (styles: %s)", e.Style, strings.Join(Styles, ", "))
}

// ResolveStyle returns the glamour style that style names under o.
func ResolveStyle(style string, color bool) (string, error) {
	switch style {
	case "", "auto":
		if color {
			return styles.DarkStyle, nil
		}
		return styles.NoTTYStyle, nil
	case "dark", "light", "notty", "ascii":
		return style, nil
	}
	return "", &StyleError{Style: style}
}

// New returns a renderer for o.
func New(o Options) (*Renderer, error) {
	style, err := ResolveStyle(o.Style, o.Color)
	if err != nil {
		return nil, err
	}
	profile := termenv.Ascii
	if o.Color && style != styles.NoTTYStyle && style != styles.AsciiStyle {
		profile = termenv.ANSI256
		if o.TrueColor {
			profile = termenv.TrueColor
		}
	}
	width := o.Width
	if width <= 0 {
		width = 80
	}
	tr, err := glamour.NewTermRenderer(
		glamour.WithStandardStyle(style),
		glamour.WithColorProfile(profile),
		glamour.WithWordWrap(width),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the %s renderer: %w", style, err)
	}
	return &Renderer{tr: tr, style: style, width: width, color: profile != termenv.Ascii}, nil
}

// Style returns the glamour style in use.
func (r *Renderer) Style() string { return r.style }

// Width returns the wrap width.
func (r *Renderer) Width() int { return r.width }

// Color reports whether the renderer emits colour.
func (r *Renderer) Color() bool { return r.color }

// Markdown renders md.
func (r *Renderer) Markdown(md string) (string, error) {
	out, err := r.tr.Render(md)
	if err != nil {
		return "", fmt.Errorf("rendering markdown: %w", err)
	}
	return out, nil
}

// Document renders md for the terminal. Link addresses are taken out of the
// running text and listed, numbered and unwrapped, after it.
func (r *Renderer) Document(md string) (string, error) {
	body, links := footnoteLinks(md)
	out, err := r.Markdown(body)
	if err != nil {
		return "", err
	}
	if len(links) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(out, " \n"))
	b.WriteString("\n\n")
	for i, l := range links {
		fmt.Fprintf(&b, "  [%d] %s\n", i+1, l)
	}
	b.WriteString("\n")
	return b.String(), nil
}
