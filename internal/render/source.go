package render

import (
	"fmt"
	"strings"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/mattn/go-runewidth"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/source"
)

// SourceStyle says how Source lays out a snippet.
type SourceStyle struct {
	// Color enables ANSI colour: C syntax colouring and a coloured gutter.
	Color bool
	// TrueColor selects 24-bit colour when Color is set; otherwise the
	// 256-colour srcPalette is used.
	TrueColor bool
	// Width is the terminal width in columns; longer lines are cut and end
	// in an ellipsis. Zero or less means no limit.
	Width int
	// Theme is a chroma style name; empty means SourceTheme("dark").
	Theme string
	// TabWidth is the distance between tab stops; zero means 4, the width
	// PostgreSQL's sources are written for.
	TabWidth int
	// ASCII uses only ASCII characters for the gutter and the ellipsis.
	ASCII bool
	// NoHeader leaves out the line naming the file and range.
	NoHeader bool
	// Lang is the language of the header.
	Lang string
}

// SourceTheme returns the chroma style that suits a glamour style: a light
// one for "light", a dark one otherwise.
func SourceTheme(glamourStyle string) string {
	if glamourStyle == "light" {
		return "github"
	}
	return "monokai"
}

// ANSI sequences of the gutter.
const (
	srcReset  = "\x1b[0m"
	srcBold   = "\x1b[1m"
	srcFaint  = "\x1b[2m"
	srcMarker = "\x1b[1;33m"
)

// srcSegment is a piece of one line with its token type.
type srcSegment struct {
	typ  chroma.TokenType
	text string
}

// Source lays out s: a header naming the file and the cited range, then one
// line per source line with its number, the cited lines marked in the
// gutter ("▌", or ">" in ASCII), tabs expanded, and lines cut to o.Width.
// With o.Color the code is coloured as C.
func Source(s source.Snippet, o SourceStyle) string {
	if o.TabWidth <= 0 {
		o.TabWidth = 4
	}
	marker, sep, ellipsis := "▌", " │ ", "…"
	if o.ASCII {
		marker, sep, ellipsis = ">", " | ", "~"
	}
	var b strings.Builder
	if !o.NoHeader {
		header := catalog.S(o.Lang, "render.source_header", "file", s.File, "first", s.First, "last", s.Last)
		if s.OutOfRange {
			header = catalog.S(o.Lang, "render.source_out_of_range", "file", s.File, "first", s.First, "last", s.Last, "total", s.Total)
		}
		if o.Color {
			header = srcBold + header + srcReset
		}
		b.WriteString(header)
		b.WriteByte('\n')
	}
	if len(s.Lines) == 0 {
		return b.String()
	}

	texts := make([]string, len(s.Lines))
	for i, l := range s.Lines {
		texts[i] = srcExpandTabs(l.Text, o.TabWidth)
	}
	var lines [][]srcSegment
	var pal *srcPalette
	if o.Color {
		lines, pal = srcColour(texts, o)
	}
	if lines == nil {
		lines = make([][]srcSegment, len(texts))
		for i, t := range texts {
			if t != "" {
				lines[i] = []srcSegment{{chroma.Text, t}}
			}
		}
	}

	numWidth := len(fmt.Sprint(s.Lines[len(s.Lines)-1].Number))
	avail := 0
	if o.Width > 0 {
		avail = max(o.Width-(1+1+numWidth+runewidth.StringWidth(sep)), 10)
	}
	for i, l := range s.Lines {
		m := " "
		if l.Cited {
			m = marker
		}
		num := fmt.Sprintf("%*d", numWidth, l.Number)
		segs := srcCut(lines[i], avail, ellipsis)
		bar := sep
		if len(segs) == 0 {
			bar = strings.TrimRight(sep, " ")
		}
		if o.Color {
			if l.Cited {
				m, num = srcMarker+m+srcReset, srcBold+num+srcReset
			} else {
				num = srcFaint + num + srcReset
			}
			bar = srcFaint + bar + srcReset
		}
		b.WriteString(m + " " + num + bar)
		srcWrite(&b, segs, pal)
		b.WriteByte('\n')
	}
	return b.String()
}

// srcExpandTabs replaces tabs by blanks up to the next multiple of width, and
// drops trailing blanks.
func srcExpandTabs(s string, width int) string {
	if !strings.Contains(s, "\t") {
		return strings.TrimRight(s, " ")
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := width - col%width
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col += runewidth.RuneWidth(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// srcCut cuts a line to width columns, ending it in ellipsis when it
// was longer. Zero width means no limit.
func srcCut(segs []srcSegment, width int, ellipsis string) []srcSegment {
	if width <= 0 {
		return segs
	}
	total := 0
	for _, sg := range segs {
		total += runewidth.StringWidth(sg.text)
	}
	if total <= width {
		return segs
	}
	room := width - runewidth.StringWidth(ellipsis)
	var out []srcSegment
	for _, sg := range segs {
		if room <= 0 {
			break
		}
		w := runewidth.StringWidth(sg.text)
		if w <= room {
			out = append(out, sg)
			room -= w
			continue
		}
		var t strings.Builder
		for _, r := range sg.text {
			rw := runewidth.RuneWidth(r)
			if rw > room {
				break
			}
			t.WriteRune(r)
			room -= rw
		}
		out = append(out, srcSegment{sg.typ, t.String()})
		break
	}
	return append(out, srcSegment{chroma.Text, ellipsis})
}

// srcColour tokenises texts as C and returns each line's tokens, or
// nil when the lexer fails (the caller then shows the lines plain).
func srcColour(texts []string, o SourceStyle) ([][]srcSegment, *srcPalette) {
	lexer := lexers.Get("c")
	if lexer == nil {
		return nil, nil
	}
	it, err := lexer.Tokenise(nil, strings.Join(texts, "\n")+"\n")
	if err != nil {
		return nil, nil
	}
	theme := o.Theme
	if theme == "" {
		theme = SourceTheme("dark")
	}
	lines := make([][]srcSegment, 1, len(texts)+1)
	for tok := it(); tok != chroma.EOF; tok = it() {
		parts := strings.Split(tok.Value, "\n")
		for i, p := range parts {
			if i > 0 {
				lines = append(lines, nil)
			}
			if p != "" {
				lines[len(lines)-1] = append(lines[len(lines)-1], srcSegment{tok.Type, p})
			}
		}
	}
	if len(lines) < len(texts) {
		return nil, nil
	}
	return lines[:len(texts)], newSrcPalette(styles.Get(theme), o.TrueColor)
}

// srcWrite writes segs, coloured by pal when pal is not nil. Neighbouring
// segments of the same colour share one escape sequence; blanks take the
// colour of the run they are in.
func srcWrite(b *strings.Builder, segs []srcSegment, pal *srcPalette) {
	if pal == nil {
		for _, sg := range segs {
			b.WriteString(sg.text)
		}
		return
	}
	cur := ""
	for _, sg := range segs {
		esc := pal.escape(sg.typ)
		if strings.TrimSpace(sg.text) == "" {
			esc = cur
		}
		if esc != cur {
			if cur != "" {
				b.WriteString(srcReset)
			}
			b.WriteString(esc)
			cur = esc
		}
		b.WriteString(sg.text)
	}
	if cur != "" {
		b.WriteString(srcReset)
	}
}

// srcPalette turns token types into ANSI sequences under one chroma style.
type srcPalette struct {
	style     *chroma.Style
	trueColor bool
	cache     map[chroma.TokenType]string
}

func newSrcPalette(style *chroma.Style, trueColor bool) *srcPalette {
	return &srcPalette{style: style, trueColor: trueColor, cache: map[chroma.TokenType]string{}}
}

// escape returns the sequence that starts text of type t; "" for none.
func (p *srcPalette) escape(t chroma.TokenType) string {
	if esc, ok := p.cache[t]; ok {
		return esc
	}
	e := p.style.Get(t)
	var esc strings.Builder
	if e.Bold == chroma.Yes {
		esc.WriteString(srcBold)
	}
	if e.Italic == chroma.Yes {
		esc.WriteString("\x1b[3m")
	}
	if e.Underline == chroma.Yes {
		esc.WriteString("\x1b[4m")
	}
	if e.Colour.IsSet() {
		r, g, bl := int(e.Colour.Red()), int(e.Colour.Green()), int(e.Colour.Blue())
		if p.trueColor {
			fmt.Fprintf(&esc, "\x1b[38;2;%d;%d;%dm", r, g, bl)
		} else {
			fmt.Fprintf(&esc, "\x1b[38;5;%dm", srcXterm256(r, g, bl))
		}
	}
	p.cache[t] = esc.String()
	return esc.String()
}

// srcXterm256 returns the xterm 256-colour index nearest to r, g, b: a
// colour of the 6x6x6 cube or a grey of the 24-step ramp.
func srcXterm256(r, g, b int) int {
	levels := [6]int{0, 95, 135, 175, 215, 255}
	nearest := func(v int) int {
		best := 0
		for i, l := range levels {
			if srcAbs(v-l) < srcAbs(v-levels[best]) {
				best = i
			}
		}
		return best
	}
	ri, gi, bi := nearest(r), nearest(g), nearest(b)
	cube := 16 + 36*ri + 6*gi + bi
	cubeDist := srcSq(r-levels[ri]) + srcSq(g-levels[gi]) + srcSq(b-levels[bi])
	grey := (r + g + b) / 3
	gi24 := min(max((grey-8+5)/10, 0), 23)
	gv := 8 + 10*gi24
	if srcSq(r-gv)+srcSq(g-gv)+srcSq(b-gv) < cubeDist {
		return 232 + gi24
	}
	return cube
}

func srcAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func srcSq(x int) int { return x * x }
