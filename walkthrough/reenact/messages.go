package reenact

import "github.com/pgwalk/pgwalk/walkthrough"

// fact returns the catalog fact key with its arguments (name, value
// pairs, as walkthrough.F takes them); the renderer says it in the
// reader's language (internal/catalog).
func fact(key string, pairs ...any) walkthrough.Fact { return walkthrough.F(key, pairs...) }

// check returns the catalog check key, held when ok.
func check(ok bool, key string, pairs ...any) walkthrough.Check {
	return walkthrough.C(ok, key, pairs...)
}

// factKey returns the value of the fact with catalog key key in facts.
func factKey(facts []walkthrough.Fact, key string) (walkthrough.Fact, bool) {
	for _, f := range facts {
		if f.Key == key {
			return f, true
		}
	}
	return walkthrough.Fact{}, false
}
