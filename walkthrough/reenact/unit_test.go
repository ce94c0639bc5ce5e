package reenact

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestAssignSlot(t *testing.T) {
	tests := []struct {
		name string
		// ops: a positive number assigns and expects that slot; a
		// negative one releases slot -n.
		ops []int
	}{
		{"scans down from the top", []int{16, 15, 14}},
		{"goes on below a released slot", []int{16, 15, 14, -15, 13}},
		{"wraps around", append(seq(16, 1), -16, 16)},
		{"full table gives 0", append(seq(16, 1), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(walkthrough.DriverOptions{})
			for i, op := range tt.ops {
				if op < 0 {
					d.releaseSlot(-op)
					continue
				}
				if got := d.assignSlot(); got != op {
					t.Fatalf("op %d: assigned %d, want %d", i, got, op)
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i >= to; i-- {
		s = append(s, i)
	}
	return s
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"A"}, "A"},
		{[]string{"A", "B", "B", "B", "C", "B"}, "A, B x3, C, B"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClosedFDs(t *testing.T) {
	fd := func(n int) walkthrough.FD { return walkthrough.FD{Num: n} }
	before := []walkthrough.FD{fd(0), fd(3), fd(4), fd(7)}
	after := []walkthrough.FD{fd(0), fd(7), fd(9)}
	got := closedFDs(before, after)
	if !slices.Equal(got, []walkthrough.FD{fd(3), fd(4)}) {
		t.Errorf("closedFDs = %v, want fds 3 and 4", got)
	}
}

func TestUnsupportedOSError(t *testing.T) {
	err := &UnsupportedOSError{GOOS: "windows"}
	if msg := err.Error(); !strings.Contains(msg, "--driver narrate") || !strings.Contains(msg, "windows") {
		t.Errorf("message %q should name the OS and the way out", msg)
	}
}
