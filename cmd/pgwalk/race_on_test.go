//go:build race

package main

// raceEnabled is true when the tests run under the race detector: pgwalk,
// which is this test binary, is then built with -race too, and several
// times slower.
const raceEnabled = true
