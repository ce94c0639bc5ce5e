package render

import (
	"bytes"
	"sort"
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"
	"github.com/rivo/uniseg"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Wrapping happens here, once, at the real width. glamour is asked not to
// wrap at all (WordWrap 0, which also stops it padding every line with
// blanks to the width): its paragraphs wrap twice, once in the paragraph
// and again in the document's margin block, with different break rules,
// so lines broke in the middle of sentences ("A debugger" / "must"), and
// its padding left most lines ending in blanks.

// Wrap breaks every line of s that is wider than width columns between
// words, keeping the line's indentation on the lines it continues on (and a
// list item's marker width, so that an item's text stays in its column).
// A line breaks only where the next word would not fit; a word wider than
// the whole line is cut. ANSI styles are closed at each break and opened
// again after the indentation. No line of the result ends in blanks.
func Wrap(s string, width int) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, wrapLine(l, width)...)
	}
	return strings.Join(out, "\n")
}

// TrimLines removes the blanks at the end of every line of s, leaving the
// ANSI sequences there in place.
func TrimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = trimRight(l)
	}
	return strings.Join(lines, "\n")
}

// token is a piece of a line: an escape sequence (no width), a blank, or
// any other character.
type token struct {
	s     string
	w     int
	esc   bool
	blank bool
}

// tokenize splits a line into tokens.
func tokenize(line string) []token {
	toks := make([]token, 0, len(line))
	for i := 0; i < len(line); {
		c := line[i]
		if c == 0x1b {
			n := escLen(line[i:])
			toks = append(toks, token{s: line[i : i+n], esc: true})
			i += n
			continue
		}
		if c == ' ' {
			toks = append(toks, token{s: " ", w: 1, blank: true})
			i++
			continue
		}
		if c > ' ' && c < 0x7f && (i+1 == len(line) || line[i+1] < 0x80) {
			// A printable ASCII character that no combining mark
			// follows is a grapheme cluster of one column: most of
			// the text, without asking uniseg.
			toks = append(toks, token{s: line[i : i+1], w: 1})
			i++
			continue
		}
		// One grapheme cluster at a time, for its display width.
		g, _, w, _ := uniseg.FirstGraphemeClusterInString(line[i:], -1)
		toks = append(toks, token{s: g, w: w})
		i += len(g)
	}
	return toks
}

// escLen returns the length of the escape sequence that starts s: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), or ESC and one byte.
func escLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		j := 2
		for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
			j++
		}
		return min(j+1, len(s))
	case ']':
		for j := 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return 2
}

// isSGR reports whether an escape sequence sets the graphic rendition, and
// whether it resets it.
func isSGR(esc string) (sgr, reset bool) {
	if !strings.HasPrefix(esc, "\x1b[") || !strings.HasSuffix(esc, "m") {
		return false, false
	}
	p := esc[2 : len(esc)-1]
	return true, p == "" || p == "0"
}

// trimRight drops the blanks at the end of line; escape sequences among
// them are kept, in order.
func trimRight(line string) string {
	if !strings.Contains(line, "\x1b") {
		return strings.TrimRight(line, " ")
	}
	toks := tokenize(line)
	last := -1
	for i, t := range toks {
		if !t.esc && !t.blank {
			last = i
		}
	}
	var b strings.Builder
	for i, t := range toks {
		if i <= last || t.esc {
			b.WriteString(t.s)
		}
	}
	return b.String()
}

// hangingPrefix returns the visible width of a line's indentation and list
// marker (blanks, then "• ", "- ", "* ", "1. " ...), and the text that the
// lines it continues on start with: blanks, or for a quote its bar.
func hangingPrefix(plain string) (string, int) {
	indent := len(plain) - len(strings.TrimLeft(plain, " "))
	rest := plain[indent:]
	for _, m := range []string{"• ", "- ", "* ", "+ "} {
		if strings.HasPrefix(rest, m) {
			return strings.Repeat(" ", indent+ansi.StringWidth(m)), indent + ansi.StringWidth(m)
		}
	}
	for _, m := range []string{"│ ", "| ", "> "} {
		if strings.HasPrefix(rest, m) {
			return strings.Repeat(" ", indent) + m, indent + ansi.StringWidth(m)
		}
	}
	d := 0
	for d < len(rest) && rest[d] >= '0' && rest[d] <= '9' {
		d++
	}
	if d > 0 && d < 4 && strings.HasPrefix(rest[d:], ". ") {
		return strings.Repeat(" ", indent+d+2), indent + d + 2
	}
	return strings.Repeat(" ", indent), indent
}

// wrapLine wraps one line at width columns.
func wrapLine(line string, width int) []string {
	line = trimRight(line)
	if width <= 0 || ansi.StringWidth(line) <= width {
		return []string{line}
	}
	prefix, prefixW := hangingPrefix(ansi.Strip(line))
	if prefixW > width*2/3 {
		prefix, prefixW = "", 0
	}
	toks := tokenize(line)

	var out []string
	var cur strings.Builder
	curW := 0
	// active holds the SGR sequences in effect, to open again after a break.
	var active []string
	track := func(t token) {
		if sgr, reset := isSGR(t.s); sgr {
			if reset {
				active = active[:0]
			} else {
				active = append(active, t.s)
			}
		}
	}
	// lineHasWord is false until the current line holds text beyond its
	// indentation: a break there would make an empty line.
	lineHasWord := false
	newLine := func() {
		if len(active) > 0 {
			cur.WriteString("\x1b[0m")
		}
		out = append(out, trimRight(cur.String()))
		cur.Reset()
		cur.WriteString(prefix)
		for _, a := range active {
			cur.WriteString(a)
		}
		curW = prefixW
		lineHasWord = false
	}

	i := 0
	// The indentation and marker of the first line are kept as they are.
	for i < len(toks) && (toks[i].esc || toks[i].blank) {
		cur.WriteString(toks[i].s)
		curW += toks[i].w
		track(toks[i])
		i++
	}
	for _, u := range wordUnits(toks[i:]) {
		if lineHasWord && curW+u.gapW+u.wordW > width {
			// The gap's escapes still apply; its blanks go.
			for _, t := range u.gap {
				if t.esc {
					cur.WriteString(t.s)
					track(t)
				}
			}
			newLine()
		} else {
			for _, t := range u.gap {
				cur.WriteString(t.s)
				curW += t.w
				track(t)
			}
		}
		for _, t := range u.word {
			if !t.esc && curW+t.w > width && curW > prefixW {
				// A word wider than the line: cut it.
				newLine()
			}
			cur.WriteString(t.s)
			curW += t.w
			track(t)
		}
		lineHasWord = lineHasWord || u.wordW > 0
	}
	out = append(out, trimRight(cur.String()))
	return out
}

// unit is a word and the gap before it: where a line may break.
type unit struct {
	gap, word   []token
	gapW, wordW int
}

// wordUnits splits tokens into words and the gaps before them. Escapes
// with no word after them end the last word. A word that starts with
// closing punctuation stays with the word before it, and one after an
// opening bracket with that bracket, when one blank at most parts them (a
// code span padded with blanks must not leave its comma or its bracket
// alone at a line's end or start).
func wordUnits(toks []token) []unit {
	var units []unit
	for i := 0; i < len(toks); {
		var u unit
		a := i
		for i < len(toks) && (toks[i].blank || toks[i].esc) {
			u.gapW += toks[i].w
			i++
		}
		b := i
		for i < len(toks) && !toks[i].blank {
			u.wordW += toks[i].w
			i++
		}
		// Slices of toks, with no room beyond them: the appends below
		// that join units copy, and never write over toks.
		u.gap, u.word = toks[a:b:b], toks[b:i:i]
		if u.wordW == 0 && len(units) > 0 {
			// Only escapes (and blanks) follow: they end the last word;
			// trailing blanks go.
			last := &units[len(units)-1]
			for _, t := range append(u.gap, u.word...) {
				if t.esc {
					last.word = append(last.word, t)
				}
			}
			continue
		}
		if n := len(units); n > 0 && u.gapW <= 1 && (startsClosing(u.word) || endsOpening(units[n-1].word)) {
			last := &units[n-1]
			last.word = append(append(last.word, u.gap...), u.word...)
			last.wordW += u.gapW + u.wordW
			continue
		}
		units = append(units, u)
	}
	return units
}

// firstText returns the first visible token of word, or "".
func firstText(word []token) string {
	for _, t := range word {
		if !t.esc {
			return t.s
		}
	}
	return ""
}

// lastText returns the last visible token of word, or "".
func lastText(word []token) string {
	for i := len(word) - 1; i >= 0; i-- {
		if !word[i].esc {
			return word[i].s
		}
	}
	return ""
}

func startsClosing(word []token) bool {
	f := firstText(word)
	return f != "" && strings.Contains(",.;:!?)]}", f)
}

func endsOpening(word []token) bool {
	l := lastText(word)
	return l != "" && strings.Contains("([{", l)
}

// mdParser parses Markdown as glamour does (GitHub Flavored Markdown and
// definition lists), to find the soft line breaks of paragraphs.
var mdParser = sync.OnceValue(func() parser.Parser {
	return goldmark.New(goldmark.WithExtensions(extension.GFM, extension.DefinitionList)).Parser()
})

// unwrapSoftBreaks joins the lines of every paragraph of md that end in a
// soft line break. Markdown renders such a break as a blank; glamour, asked
// not to wrap, would keep it as a line break, so that a note's text would
// break wherever its source file does.
func unwrapSoftBreaks(md string) string {
	if !strings.Contains(md, "\n") {
		return md
	}
	src := []byte(md)
	doc := mdParser().Parse(text.NewReader(src))
	type span struct{ from, to int }
	var joins []span
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || (n.Kind() != ast.KindParagraph && n.Kind() != ast.KindTextBlock) {
			return ast.WalkContinue, nil
		}
		lines := n.Lines()
		for i := 0; i+1 < lines.Len(); i++ {
			cur, next := lines.At(i), lines.At(i+1)
			end := cur.Stop
			for end > cur.Start && (src[end-1] == '\n' || src[end-1] == '\r') {
				end--
			}
			line := src[cur.Start:end]
			if bytes.HasSuffix(line, []byte("  ")) || bytes.HasSuffix(line, []byte("\\")) {
				continue // a hard line break stays
			}
			for end > cur.Start && (src[end-1] == ' ' || src[end-1] == '\t') {
				end--
			}
			if next.Start > end {
				joins = append(joins, span{end, next.Start})
			}
		}
		return ast.WalkContinue, nil
	})
	if len(joins) == 0 {
		return md
	}
	sort.Slice(joins, func(i, j int) bool { return joins[i].from < joins[j].from })
	var b strings.Builder
	last := 0
	for _, j := range joins {
		if j.from < last {
			continue
		}
		b.Write(src[last:j.from])
		b.WriteByte(' ')
		last = j.to
	}
	b.Write(src[last:])
	return b.String()
}
