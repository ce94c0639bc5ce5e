package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// numbered returns n lines "prefix 1" .. "prefix n".
func numbered(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

// TestPagesNeverSplitARange lays out a stop whose source follows the note
// on a 10-row screen: the source starts a page of its own, a range that
// would be split starts a page, a range that fits is never split, and one
// taller than the screen runs on over whole pages.
func TestPagesNeverSplitARange(t *testing.T) {
	b := Compose(StopParts{
		Head:    numbered("head", 3),
		Note:    numbered("note", 12),
		Details: numbered("value", 4),
		Sources: []string{numbered("a", 6), numbered("b", 6), numbered("c", 23), numbered("d", 2)},
	})
	if b.Values < 0 || !strings.HasPrefix(b.Lines[b.Values], "value 1") {
		t.Fatalf("Values=%d", b.Values)
	}
	if !strings.HasPrefix(b.Lines[b.Source], "a 1") {
		t.Fatalf("Source=%d: %q", b.Source, b.Lines[b.Source])
	}
	const height = 10
	pages := b.Pages(height, 80)
	starts := map[string]bool{}
	pageOf := map[string][]int{}
	for i, p := range pages {
		starts[b.Lines[p]] = true
		end := len(b.Lines)
		if i+1 < len(pages) {
			end = pages[i+1]
		}
		if end-p > height {
			t.Errorf("page %d holds %d lines, more than %d", i+1, end-p, height)
		}
		for _, l := range b.Lines[p:end] {
			if f := strings.Fields(l); len(f) == 2 && len(f[0]) == 1 {
				pageOf[f[0]] = append(pageOf[f[0]], i)
			}
		}
	}
	// A range that fits on a page is on one page; c, taller than the
	// screen, is the only one split.
	for r, ps := range pageOf {
		if r != "c" && ps[0] != ps[len(ps)-1] {
			t.Errorf("range %s is split over pages %v", r, ps)
		}
	}
	for _, want := range []string{"head 1", "a 1", "b 1", "c 1", "c 11", "c 21"} {
		if !starts[want] {
			t.Errorf("no page starts with %q; pages start with %v", want, starts)
		}
	}
	// The window of a page shows that page only, padded to the screen.
	for i, p := range pages {
		w := b.Window(p, pages, height, 80)
		if len(w) != height {
			t.Fatalf("window %d has %d lines", i, len(w))
		}
		if i+1 < len(pages) && strings.Contains(strings.Join(w, "\n"), b.Lines[pages[i+1]]+"\n") {
			t.Errorf("window %d runs into the next page", i)
		}
	}
	// Scrolled to just before the source, the screen stops at its page.
	w := b.Window(b.Source-2, pages, height, 80)
	if strings.Contains(strings.Join(w, "\n"), "a 1") {
		t.Errorf("a scrolled screen runs past the source's page break:\n%s", strings.Join(w, "\n"))
	}
	if lt := b.LastTop(height, 80); lt != len(b.Lines)-height {
		t.Errorf("LastTop = %d, want %d", lt, len(b.Lines)-height)
	}
}

// TestComposeBeside puts the source to the right of the text: every row
// holds the text in its column, two blanks, then the source.
func TestComposeBeside(t *testing.T) {
	b := Compose(StopParts{
		Head:      "title\n",
		Note:      "a note line that is longer than the column\nshort\n",
		Sources:   []string{numbered("src", 3)},
		Beside:    true,
		TextWidth: 20,
	})
	want := []string{
		"title                 src 1",
		"                      src 2",
		"a note line that is…  src 3",
		"short",
	}
	if strings.Join(b.Lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("beside:\n%s\nwant:\n%s", strings.Join(b.Lines, "\n"), strings.Join(want, "\n"))
	}
	if b.Source != 0 || len(b.Breaks()) != 0 {
		t.Errorf("Source=%d Breaks=%v", b.Source, b.Breaks())
	}
}

// TestOverlay draws a box over the middle of a screen: the page shows
// around it, and no row gets wider than the terminal.
func TestOverlay(t *testing.T) {
	page := make([]string, 10)
	for i := range page {
		page[i] = strings.Repeat(fmt.Sprint(i), 30)
	}
	rows := Overlay(page, []string{"+--+", "|ok|", "+--+"}, 30)
	if len(rows) != 10 {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[4] != "4444444444444|ok|4444444444444" || rows[0] != page[0] || rows[9] != page[9] {
		t.Errorf("overlay:\n%s", strings.Join(rows, "\n"))
	}
}

// TestKeyHelpListsEveryKey checks that the help names every key the
// navigation decodes, and fits 80 columns.
func TestKeyHelpListsEveryKey(t *testing.T) {
	for _, ascii := range []bool{false, true} {
		box := strings.Join(KeyHelp("en", ascii), "\n")
		for _, k := range []string{"Enter", "space", "n,", "b, p", "j,", "k,", "PgDn", "PgUp", "v ", "s ", "c ", "g,", "Home", "G,", "End", "1-5", "?", "q ", "Ctrl-C"} {
			if !strings.Contains(box, k) {
				t.Errorf("ascii=%v: the help lacks %q:\n%s", ascii, k, box)
			}
		}
		for _, l := range KeyHelp("en", ascii) {
			if w := ansi.StringWidth(l); w > 78 {
				t.Errorf("help line of %d columns: %q", w, l)
			}
		}
		if ascii && strings.ContainsFunc(box, func(r rune) bool { return r > 127 }) {
			t.Errorf("the ASCII help holds other characters:\n%s", box)
		}
	}
}

// TestFooterFits checks that the footer fits the terminal, keeps "? keys ·
// q quit" at its end from 40 columns on, and below that is cut at its end.
func TestFooterFits(t *testing.T) {
	st := walkthrough.State{}.Received(walkthrough.Child).Received(walkthrough.ParentRegistration)
	st = st.WithLayout(walkthrough.Layout{Lines: 200, Pages: []int{0, 20, 40, 60, 80, 100, 120, 140, 160, 180}, LastTop: 180})
	heading := "Phase 4/5 · Child cleanup and start · 16.4"
	for _, width := range []int{40, 60, 80, 120, 200} {
		for _, color := range []bool{false, true} {
			f := Footer(st, heading, "", width, color, false, "en")
			if w := ansi.StringWidth(f); w >= width {
				t.Errorf("%d columns: footer of %d columns: %q", width, w, f)
			}
			if !strings.HasSuffix(ansi.Strip(f), "? keys · q quit") {
				t.Errorf("%d columns: footer does not end in the keys: %q", width, ansi.Strip(f))
			}
		}
	}
	if f := Footer(st, heading, "", 120, false, false, "en"); f != " Phase 4/5 · Child cleanup and start · 16.4 · 1/10 · reviewing stop 1 of 2 · ? keys · q quit" {
		t.Errorf("120 columns: %q", f)
	}
	if f := Footer(st, heading, "", 30, false, false, "en"); f != " Phase 4/5 · Child cleanup a…" {
		t.Errorf("30 columns: %q", f)
	}
}

// TestFooterKeepsTheAlert checks that an alert (a client waits) stays in
// the footer at every width from 40 columns, with the keys at the end:
// the heading gives way first.
func TestFooterKeepsTheAlert(t *testing.T) {
	st := walkthrough.State{}.Received(walkthrough.Child).Received(walkthrough.ParentRegistration)
	st = st.WithLayout(walkthrough.Layout{Lines: 200, Pages: []int{0, 20, 40, 60, 80, 100, 120, 140, 160, 180}, LastTop: 180})
	heading := "Phase 4/5 · Child cleanup and start · 16.4"
	alert := "1 client waiting: G goes to it"
	for _, width := range []int{60, 80, 120, 200} {
		for _, ascii := range []bool{false, true} {
			f := Footer(st, heading, alert, width, false, ascii, "en")
			if w := ansi.StringWidth(f); w >= width {
				t.Errorf("%d columns: footer of %d columns: %q", width, w, f)
			}
			if !strings.Contains(f, alert) {
				t.Errorf("%d columns: the alert is gone: %q", width, f)
			}
			if !strings.HasSuffix(f, "q quit") {
				t.Errorf("%d columns: footer does not end in the keys: %q", width, f)
			}
			if strings.Contains(f, "reviewing") {
				t.Errorf("%d columns: the alert takes the hint's place: %q", width, f)
			}
		}
	}
	if f := Footer(st, heading, alert, 80, false, false, "en"); f != " Phase 4/5 · Child … · 1/10 · 1 client waiting: G goes to it · ? keys · q quit" {
		t.Errorf("80 columns: %q", f)
	}
	if f := Footer(st, heading, alert, 60, false, false, "en"); f != " 1/10 · 1 client waiting: G goes to it · ? keys · q quit" {
		t.Errorf("60 columns: the heading goes before the alert: %q", f)
	}
}

// TestConnectBox checks that the connect box keeps every command line
// whole and wraps its notes to the screen.
func TestConnectBox(t *testing.T) {
	cmd := "psql -h /tmp/pgwalk-1234567890 -p 54321 -U postgres postgres"
	note := strings.Repeat("a note that wraps ", 10)
	for _, width := range []int{70, 80, 120} {
		box := ConnectBox(Connect{Title: "Connect with psql", Commands: []string{cmd}, Notes: []string{note}}, width, false)
		text := strings.Join(box, "\n")
		if !strings.Contains(text, "│   "+cmd+" ") {
			t.Errorf("%d columns: the command line is not whole:\n%s", width, text)
		}
		for _, l := range box {
			if w := ansi.StringWidth(l); w >= width {
				t.Errorf("%d columns: a line of %d (the last column stays free): %q", width, w, l)
			}
		}
		if !strings.HasPrefix(box[0], "┌") || !strings.HasPrefix(box[len(box)-1], "└") {
			t.Errorf("%d columns: no frame:\n%s", width, text)
		}
	}
}
