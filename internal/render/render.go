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

	"github.com/pgwalk/pgwalk/internal/catalog"
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

// Renderer renders Markdown for a terminal. Create one per run and reuse it;
// WithWidth shares it at another width.
type Renderer struct {
	tr      *glamour.TermRenderer
	opts    []glamour.TermRendererOption
	style   string
	width   int
	color   bool
	profile termenv.Profile
	// tables renders a document that holds a table: glamour must size a
	// table's columns itself, at the width. Made when first needed.
	tables *glamour.TermRenderer
}

// StyleError is returned for an unknown --style value.
type StyleError struct{ Style string }

func (e *StyleError) Error() string {
	return catalog.S(catalog.DefaultLang, "usage.style", "style", e.Style, "styles", strings.Join(Styles, ", "))
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
	// WordWrap 0: glamour neither wraps nor pads; Wrap does it once.
	opts := []glamour.TermRendererOption{glamour.WithStandardStyle(style), glamour.WithColorProfile(profile)}
	tr, err := glamour.NewTermRenderer(append(opts, glamour.WithWordWrap(0))...)
	if err != nil {
		return nil, catalog.Wrap(catalog.DefaultLang, err, "render.error.create", "style", style)
	}
	return &Renderer{tr: tr, opts: opts, style: style, width: width, color: profile != termenv.Ascii, profile: profile}, nil
}

// WithWidth returns a renderer that wraps at width columns and shares r's
// glamour renderer (a terminal that was resized keeps its renderer).
func (r *Renderer) WithWidth(width int) *Renderer {
	if width <= 0 || width == r.width {
		return r
	}
	c := *r
	c.width, c.tables = width, nil
	return &c
}

// Style returns the glamour style in use.
func (r *Renderer) Style() string { return r.style }

// Width returns the wrap width.
func (r *Renderer) Width() int { return r.width }

// Color reports whether the renderer emits colour.
func (r *Renderer) Color() bool { return r.color }

// Markdown renders md, wrapped at the renderer's width. No line ends in
// blanks.
func (r *Renderer) Markdown(md string) (string, error) {
	if hasTable(md) {
		if r.tables == nil {
			tr, err := glamour.NewTermRenderer(append(r.opts, glamour.WithWordWrap(r.width))...)
			if err != nil {
				return "", catalog.Wrap(catalog.DefaultLang, err, "render.error.create", "style", r.style)
			}
			r.tables = tr
		}
		out, err := r.tables.Render(md)
		if err != nil {
			return "", catalog.Wrap(catalog.DefaultLang, err, "render.error.markdown")
		}
		return TrimLines(out), nil
	}
	out, err := r.tr.Render(unwrapSoftBreaks(md))
	if err != nil {
		return "", catalog.Wrap(catalog.DefaultLang, err, "render.error.markdown")
	}
	return Wrap(out, r.width), nil
}

// hasTable reports whether md holds a table's delimiter row ("|---|---|").
func hasTable(md string) bool {
	for _, l := range strings.Split(md, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "|") && strings.Contains(l, "---") && strings.Trim(l, "|-: ") == "" {
			return true
		}
	}
	return false
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
