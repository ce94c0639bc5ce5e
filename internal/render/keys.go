package render

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// helpKeys lists every key of an interactive run: the keys, and what they
// do (a key of the message catalog).
var helpKeys = [][2]string{
	{"Enter, space, n, →", "help.next"},
	{"b, p, ←", "help.back"},
	{"j, ↓ / k, ↑", "help.line"},
	{"PgDn / PgUp", "help.page"},
	{"v", "help.values"},
	{"s", "help.source"},
	{"c", "help.connect"},
	{"g, Home / G, End", "help.first_last"},
	{"1-5", "help.phase"},
	{"?", "help.help"},
	{"q", "help.quit"},
	{"Ctrl-C", "help.interrupt"},
}

// asciiKeys spells the arrows of helpKeys in ASCII.
var asciiKeys = strings.NewReplacer("→", "Right", "←", "Left", "↓", "Down", "↑", "Up")

// KeyHelp returns the key help that ? shows over the page: a framed box
// listing every key, in lang.
func KeyHelp(lang string, ascii bool) []string {
	keyW := 0
	for _, k := range helpKeys {
		keyW = max(keyW, ansi.StringWidth(helpKey(k[0], ascii)))
	}
	lines := []string{catalog.S(lang, "help.title"), ""}
	for _, k := range helpKeys {
		key := helpKey(k[0], ascii)
		lines = append(lines, key+strings.Repeat(" ", keyW-ansi.StringWidth(key)+2)+catalog.S(lang, k[1]))
	}
	lines = append(lines, "", catalog.S(lang, "help.no_rewind"))
	return frame(lines, ascii)
}

func helpKey(k string, ascii bool) string {
	if ascii {
		return asciiKeys.Replace(k)
	}
	return k
}

// frame draws a box around lines, one blank column inside each side.
func frame(lines []string, ascii bool) []string {
	w := 0
	for _, l := range lines {
		w = max(w, ansi.StringWidth(l))
	}
	tl, tr, bl, br, h, v := "┌", "┐", "└", "┘", "─", "│"
	if ascii {
		tl, tr, bl, br, h, v = "+", "+", "+", "+", "-", "|"
	}
	out := []string{tl + strings.Repeat(h, w+2) + tr}
	for _, l := range lines {
		out = append(out, v+" "+l+strings.Repeat(" ", w-ansi.StringWidth(l))+" "+v)
	}
	return append(out, bl+strings.Repeat(h, w+2)+br)
}

// Footer returns the line under a stop on a terminal of width columns: the
// stop's heading, the page, a hint, and always, at its end, "? keys · q
// quit". An alert (a client waits, pgwalk waits for one), when not "",
// takes the hint's place and stays: the heading's end goes first, then the
// heading. Without one, what does not fit goes: the hint, then the end of
// the heading. A terminal narrower than pgwalk renders for (40 columns)
// gets the line cut at its end.
func Footer(st walkthrough.State, heading, alert string, width int, color, ascii bool, lang string) string {
	sep := " · "
	if ascii {
		sep = " | "
	}
	right := catalog.S(lang, "footer.keys") + sep + catalog.S(lang, "footer.quit")
	var page, hint string
	if p, n := st.Page(); n > 1 {
		page = fmt.Sprintf("%d/%d", p+1, n)
	}
	switch {
	case alert != "":
		hint = alert
	case st.Reviewing():
		hint = catalog.S(lang, "footer.reviewing", "n", st.Pos+1, "total", len(st.Stops))
	case !st.AtEnd():
		hint = catalog.S(lang, "footer.more")
	case st.Done && st.Pos == len(st.Stops)-1:
		hint = catalog.S(lang, "footer.the_end")
	}
	join := func(parts ...string) string {
		var keep []string
		for _, p := range parts {
			if p != "" {
				keep = append(keep, p)
			}
		}
		return " " + strings.Join(keep, sep)
	}
	room := width - 1 // the last column stays free: no wrap, no scroll
	line := join(heading, page, hint, right)
	if ansi.StringWidth(line) > room && alert == "" {
		hint = ""
		line = join(heading, page, right)
	}
	if w := ansi.StringWidth(line); w > room {
		tail := sep + join(page, hint, right)[1:]
		if keep := room - 1 - ansi.StringWidth(tail) - 1; keep >= 10 && width >= 40 {
			line = " " + ansi.Truncate(heading, keep, "…") + tail
		} else if short := join(page, hint, right); alert != "" && ansi.StringWidth(short) <= room {
			line = short
		} else {
			line = ansi.Truncate(join(heading, page, hint, right), max(room, 1), "…")
		}
	}
	if color {
		return "\x1b[7m" + line + "\x1b[0m"
	}
	return line
}
