package live

import (
	"slices"
	"sort"
	"testing"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// checkMsg fails tb when m's key is not in the message catalog in every
// language, or m's arguments are not the placeholders of its texts. (The
// catalog's own tests check that every key the code names exists and that
// the languages agree; this checks what a run really said.)
func checkMsg(tb testing.TB, m walkthrough.Msg) {
	tb.Helper()
	var args []string
	for a := range m.Args {
		args = append(args, a)
	}
	sort.Strings(args)
	for _, lang := range catalog.Langs() {
		e, ok := catalog.Lookup(lang, m.Key)
		if !ok {
			tb.Errorf("message %q has no %s entry in the catalog", m.Key, lang)
			continue
		}
		var want []string
		for _, s := range []string{e.Text, e.One, e.Label, e.Name, e.Detail} {
			for _, p := range catalog.Placeholders(s) {
				if !slices.Contains(want, p) {
					want = append(want, p)
				}
			}
		}
		sort.Strings(want)
		if !slices.Equal(args, want) {
			tb.Errorf("message %s has the arguments %v; its %s text names %v", m.Key, args, lang, want)
		}
	}
}
