package reenact

import (
	"testing"
	"time"
)

// within returns the next value received from ch. It fails t, naming
// what it waited for, when none comes within safety: a receive in a test
// never waits for ever.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(safety):
		t.Fatalf("no %s within %v", what, safety)
	}
	var zero T
	return zero
}
