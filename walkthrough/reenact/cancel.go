package reenact

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// cancelCheck is the outcome of processCancelRequest in a child.
type cancelCheck struct {
	// matched is true when the list held the pid with the key: the child
	// signals that backend.
	matched bool
	// log is the line PostgreSQL logs for the outcome (the match itself
	// only at DEBUG2).
	log string
}

// processCancelRequest searches list, head first, for the backend a
// CancelRequest names, as PostgreSQL's processCancelRequest searches the
// child's copy of BackendList (16.4 postmaster.c:2402-2464, 17.1
// postmaster.c:1834-1886): the first record with that pid decides, and
// only the right key is a match. A record with no pid yet is never on
// PostgreSQL's list and never matches here.
func processCancelRequest(list []walkthrough.BackendNode, pid int, key int32) cancelCheck {
	for _, bn := range list {
		if bn.PID <= 0 || bn.PID != pid {
			continue
		}
		if bn.CancelKey == key {
			return cancelCheck{matched: true, log: fmt.Sprintf("processing cancel request: sending SIGINT to process %d", pid)}
		}
		return cancelCheck{log: fmt.Sprintf("wrong key in cancel request for process %d", pid)}
	}
	return cancelCheck{log: fmt.Sprintf("PID %d in cancel request did not match any process", pid)}
}

// cancelOutcome is the outcome of SendCancelRequest's search of the keys
// the backends published: found is true when a row held pid, matched when
// its key was the request's. The log lines are the same as
// processCancelRequest's.
func cancelOutcome(pid int, found, matched bool) cancelCheck {
	switch {
	case matched:
		return cancelCheck{matched: true, log: fmt.Sprintf("processing cancel request: sending SIGINT to process %d", pid)}
	case found:
		return cancelCheck{log: fmt.Sprintf("wrong key in cancel request for process %d", pid)}
	}
	return cancelCheck{log: fmt.Sprintf("PID %d in cancel request did not match any process", pid)}
}

// The answer PostgreSQL gives a statement cancelled by SIGINT
// (ERRCODE_QUERY_CANCELED, postgres.c's ProcessInterrupts).
const (
	queryCanceledCode    = "57014"
	queryCanceledMessage = "canceling statement due to user request"
)

// tooManyClients is what a dead-end backend tells its client (53300,
// ERRCODE_TOO_MANY_CONNECTIONS).
const tooManyClients = "sorry, too many clients already"

// voidOID is the type of pg_sleep's result.
const voidOID = 2278

// parsePgSleep recognises "SELECT pg_sleep(n)" (any case, an optional
// trailing semicolon, n optionally quoted) and returns how long to sleep.
// It is the one query the re-enactment's backend runs, so that a cancel
// request has a statement to cancel.
func parsePgSleep(q string) (time.Duration, bool) {
	s := strings.ToLower(strings.TrimSpace(q))
	s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	rest, ok := strings.CutPrefix(s, "select")
	if !ok || rest == "" || !isSpace(rest[0]) {
		return 0, false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "pg_sleep")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "(")
	if !ok {
		return 0, false
	}
	arg, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return 0, false
	}
	arg = strings.TrimSpace(arg)
	if len(arg) >= 2 && arg[0] == '\'' && arg[len(arg)-1] == '\'' {
		arg = strings.TrimSpace(arg[1 : len(arg)-1])
	}
	secs, err := strconv.ParseFloat(arg, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, false
	}
	switch {
	case secs <= 0:
		return 0, true
	case secs >= float64(math.MaxInt64)/float64(time.Second):
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(secs * float64(time.Second)), true
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}
