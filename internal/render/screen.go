package render

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// StopParts are the rendered parts of a stop, for Compose to lay out on a
// terminal.
type StopParts struct {
	// Head is the heading, the point in the code and what happened.
	Head string
	// Note is the phase's note (or the line saying it was shown before).
	Note string
	// Details lists every value observed; "" when there are none.
	Details string
	// Sources holds one laid-out block per cited range.
	Sources []string
	// Beside puts the source to the right of the text, which is
	// TextWidth columns wide; otherwise it follows on pages of its own.
	Beside    bool
	TextWidth int
}

// Body is a stop laid out for a terminal: its lines, and where its parts
// begin. Pages cuts it into screens.
type Body struct {
	Lines []string
	// Values and Source are the first lines of the details and of the
	// source lines; -1 when there are none.
	Values, Source int
	// breaks are the lines that must start a page.
	breaks []int
	// keep are the spans [from, to) of lines (source ranges) that a page
	// must not split: each starts a page.
	keep [][2]int
}

// splitText returns the lines of a rendered part, without the blank lines
// at its ends.
func splitText(s string) []string {
	s = strings.Trim(s, "\n")
	if strings.TrimSpace(ansi.Strip(s)) == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Compose lays out the parts of a stop.
func Compose(p StopParts) Body {
	b := Body{Values: -1, Source: -1}
	var text []string
	add := func(part string) int {
		lines := splitText(part)
		if len(lines) == 0 {
			return -1
		}
		if len(text) > 0 {
			text = append(text, "")
		}
		at := len(text)
		text = append(text, lines...)
		return at
	}
	add(p.Head)
	add(p.Note)
	b.Values = add(p.Details)
	if len(p.Sources) == 0 {
		b.Lines = text
		return b
	}
	var src []string
	for i, block := range p.Sources {
		lines := splitText(block)
		if len(lines) == 0 {
			continue
		}
		if i > 0 && len(src) > 0 {
			src = append(src, "")
		}
		b.keep = append(b.keep, [2]int{len(src), len(src) + len(lines)})
		src = append(src, lines...)
	}
	if !p.Beside {
		// The source follows on pages of its own.
		text = append(text, "")
		b.Source = len(text)
		b.breaks = append(b.breaks, b.Source)
		for i := range b.keep {
			b.keep[i][0] += b.Source
			b.keep[i][1] += b.Source
		}
		b.Lines = append(text, src...)
		return b
	}
	b.Source = 0
	rows := max(len(text), len(src))
	b.Lines = make([]string, rows)
	for i := range rows {
		var left, right string
		if i < len(text) {
			left = text[i]
		}
		if i < len(src) {
			right = src[i]
		}
		if right == "" {
			b.Lines[i] = left
			continue
		}
		if w := ansi.StringWidth(left); w > p.TextWidth {
			left = ansi.Truncate(left, p.TextWidth, "…")
		}
		pad := max(p.TextWidth-ansi.StringWidth(left), 0)
		if strings.Contains(left, "\x1b") {
			left += "\x1b[0m" // the text's style must not colour the gap
		}
		b.Lines[i] = trimRight(left + strings.Repeat(" ", pad+2) + right)
	}
	return b
}

// rows returns how many terminal rows line takes on a terminal of width
// columns, which wraps what is longer (a permalink is never cut, so that
// it stays whole for the terminal to open).
func rows(line string, width int) int {
	w := ansi.StringWidth(line)
	if width <= 0 || w <= width {
		return 1
	}
	return (w + width - 1) / width
}

// Pages returns the first line of each screen of b on a terminal of
// height rows and width columns: a page ends where the next line would not
// fit, at a line that must start a page, or before a source range that
// would be split: a range starts a page, and only one taller than the
// screen is split.
func (b Body) Pages(height, width int) []int {
	pages := []int{0}
	if height <= 0 {
		return pages
	}
	p := 0
	for p < len(b.Lines) {
		used, q := 0, p
		for q < len(b.Lines) && (q == p || used+rows(b.Lines[q], width) <= height) {
			used += rows(b.Lines[q], width)
			q++
		}
		next := q
		for _, br := range b.breaks {
			if br > p && br < next {
				next = br
			}
		}
		for _, k := range b.keep {
			// A range that would be split starts a page (one taller
			// than the screen then runs on over the next pages).
			if k[0] > p && k[0] < next && next < k[1] {
				next = k[0]
			}
		}
		if next >= len(b.Lines) {
			break
		}
		// Lines after the end only pad the screen: a last page that
		// holds nothing but blanks is no page.
		if strings.TrimSpace(ansi.Strip(strings.Join(b.Lines[next:], ""))) == "" {
			break
		}
		pages = append(pages, next)
		p = next
	}
	return pages
}

// LastTop returns the first line from which the rest of b fits on a
// terminal of height rows and width columns.
func (b Body) LastTop(height, width int) int {
	used := 0
	for i := len(b.Lines) - 1; i >= 0; i-- {
		used += rows(b.Lines[i], width)
		if used > height {
			return i + 1
		}
	}
	return 0
}

// Breaks returns the lines that must start a page: no screen shows what
// is before one together with what is after it.
func (b Body) Breaks() []int { return b.breaks }

// Window returns the lines of b to show from line top on a terminal of
// height rows and width columns, padded with empty lines to fill it. When
// top starts a page, the screen shows that page only; no screen runs past
// a line that must start a page.
func (b Body) Window(top int, pages []int, height, width int) []string {
	end := len(b.Lines)
	for i, p := range pages {
		if p == top && i+1 < len(pages) {
			end = pages[i+1]
		}
	}
	for _, br := range b.breaks {
		if br > top && br < end {
			end = br
		}
	}
	var out []string
	used := 0
	for i := max(top, 0); i < end && i < len(b.Lines); i++ {
		r := rows(b.Lines[i], width)
		if used+r > height && len(out) > 0 {
			break
		}
		out = append(out, b.Lines[i])
		used += r
	}
	for ; used < height; used++ {
		out = append(out, "")
	}
	return out
}

// toRows splits lines into the rows a terminal of width columns shows.
func toRows(lines []string, width int) []string {
	var out []string
	for _, l := range lines {
		for rows(l, width) > 1 {
			out = append(out, ansi.Truncate(l, width, ""))
			l = ansi.TruncateLeft(l, width, "")
		}
		out = append(out, l)
	}
	return out
}

// Overlay draws box over the rows of a screen of width columns, centred,
// and returns the rows. What the box covers is hidden; the rest of the
// page stays visible around it.
func Overlay(screen []string, box []string, width int) []string {
	out := toRows(screen, width)
	boxW := 0
	for _, l := range box {
		boxW = max(boxW, ansi.StringWidth(l))
	}
	boxW = min(boxW, width)
	x := max((width-boxW)/2, 0)
	y := max((len(out)-len(box))/2, 0)
	for i, l := range box {
		r := y + i
		if r >= len(out) {
			break
		}
		l = ansi.Truncate(l, boxW, "")
		l += strings.Repeat(" ", boxW-ansi.StringWidth(l))
		row := out[r]
		left := ansi.Truncate(row, x, "")
		left += strings.Repeat(" ", x-ansi.StringWidth(left))
		right := ""
		if ansi.StringWidth(row) > x+boxW {
			right = ansi.TruncateLeft(row, x+boxW, "")
		}
		if strings.Contains(row, "\x1b") {
			// The page's style must not colour the box, nor the box's
			// the page.
			l = "\x1b[0m" + l + "\x1b[0m"
		}
		out[r] = trimRight(left + l + right)
	}
	return out
}
