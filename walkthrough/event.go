package walkthrough

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Process says which process a stop was observed in.
type Process string

// The processes a stop can belong to.
const (
	// Postmaster is the parent: the process that accepts connections and forks.
	Postmaster Process = "postmaster"
	// Backend is the child created for the connection.
	Backend Process = "backend"
	// Client is the process that connected (pgwalk's own client at the epilogue).
	Client Process = "client"
)

// Event is what a driver observed at one stop. Drivers fill Phase, Process,
// PID, Point and Values; the engine fills Seq, Version and Driver.
type Event struct {
	// Seq counts the stops of a run from 1.
	Seq int `json:"seq"`
	// Connection counts the connections walked in this run from 1 (a
	// --wait-for-client run walks one connection after another).
	Connection int     `json:"connection"`
	Phase      PhaseID `json:"phase"`
	Version    string  `json:"version"`
	Driver     string  `json:"driver"`
	Process    Process `json:"process"`
	// PID is the process's pid, 0 where there is no process (narration).
	PID int `json:"pid,omitempty"`
	// Point says where in the code the stop happened, in English: the
	// release manifest's `at:` line, for example "BackendStartup,
	// postmaster.c:4168: fork_process() has returned the child's pid in
	// the postmaster" (translated by its English text), or the English
	// text of PointKey.
	Point string `json:"point,omitempty"`
	// PointKey and PointArgs say a point that a driver words itself as a
	// catalog message (see Msg), as Fact.Key and Fact.Args say a fact: the
	// renderer says it in the reader's language, and the JSON encoding
	// fills Point with its English text, for programs.
	PointKey  string            `json:"point_key,omitempty"`
	PointArgs map[string]string `json:"point_args,omitempty"`
	Values    Values            `json:"values"`
	// Unobserved lists the planned values (their JSON keys) that a driver
	// which observes could not observe at this stop, for example where a
	// stripped binary has no symbol to read them at; a fact says why.
	Unobserved []string `json:"unobserved,omitempty"`
}

// Lacks returns the keys of want that ev neither holds nor says it could
// not observe.
func (ev Event) Lacks(want []string) []string {
	var out []string
	for _, k := range MissingValues(ev.Values, want) {
		if !slices.Contains(ev.Unobserved, k) {
			out = append(out, k)
		}
	}
	return out
}

// PointMsg returns the catalog message of e's point (PointKey and
// PointArgs); its Key is "" when the point is Point's English text.
func (e Event) PointMsg() Msg { return Msg{Key: e.PointKey, Args: e.PointArgs} }

// SetPoint makes m, a catalog message, e's point.
func (e *Event) SetPoint(m Msg) { e.PointKey, e.PointArgs = m.Key, m.Args }

// Values is the one vocabulary every driver uses for what it observed. A
// field a driver did not observe stays at its zero value and is left out of
// the JSON encoding. README.md documents each field.
type Values struct {
	PostmasterPID int `json:"postmaster_pid,omitempty"`
	ChildPID      int `json:"child_pid,omitempty"`
	// CancelKey is the secret of the connection as an int32, for a key of
	// 4 bytes (every key of 16.4 and 17.1; a protocol 3.0 client's key in
	// 18.4). A longer key has only CancelKeyHex.
	CancelKey *int32 `json:"cancel_key,omitempty"`
	// CancelKeyHex is the key's bytes in hex, for a key of any length (32
	// bytes for an 18.4 client that asked for protocol 3.2). The JSON
	// encoding derives it from CancelKey when a driver set only that.
	CancelKeyHex string `json:"cancel_key_hex,omitempty"`
	// CanAccept is the canAcceptConnections result: CAC_OK, CAC_STARTUP, ...
	CanAccept string `json:"can_accept,omitempty"`
	DeadEnd   *bool  `json:"dead_end,omitempty"`
	ChildSlot *int   `json:"child_slot,omitempty"`
	// Backend is the Backend record as the postmaster holds it at this stop.
	Backend *BackendNode `json:"backend,omitempty"`
	// ForkReturn is what fork_process returned in the process of this stop
	// (the child's pid in the postmaster, 0 in the child).
	ForkReturn *int `json:"fork_return,omitempty"`
	FDsBefore  []FD `json:"fds_before,omitempty"`
	FDsAfter   []FD `json:"fds_after,omitempty"`
	ClosedFDs  []FD `json:"closed_fds,omitempty"`
	// BackendList is the postmaster's list of backends, head first. An
	// observed empty list (nil is "not observed") is encoded as [].
	BackendList []BackendNode `json:"backend_list,omitempty"`
	// ClientBackendKey is the BackendKeyData message the client received.
	ClientBackendKey *BackendKey `json:"client_backend_key,omitempty"`
	// Errno is the error of a failed fork.
	Errno *Errno `json:"errno,omitempty"`
	// CancelRequest is what the connection's startup packet turned out to
	// be when it was a CancelRequest, and what came of it.
	CancelRequest *CancelRequest `json:"cancel_request,omitempty"`
	// Log holds the lines the process logged at this stop, as PostgreSQL
	// would log them ("forked new backend, pid=... socket=...").
	Log []string `json:"log,omitempty"`
	// Checks are the cross-checks a driver made, true when they held.
	Checks []Check `json:"checks,omitempty"`
	// Facts are other observations, in the order they were made, each a
	// short name and its value (for example "allocator": "malloc").
	Facts []Fact `json:"facts,omitempty"`
}

// KeyHex returns the 4-byte key k in hex, big-endian as it travels in
// BackendKeyData: KeyHex(-1) is "ffffffff".
func KeyHex(k int32) string { return fmt.Sprintf("%08x", uint32(k)) }

// MarshalJSON encodes v with every field that was observed: like the
// default encoding, except that an observed but empty BackendList (a
// non-nil slice of length 0) is written as [] rather than left out, so that
// "the list was empty" and "the list was not looked at" stay different.
func (v Values) MarshalJSON() ([]byte, error) {
	type plain Values // no methods: no recursion
	out := struct {
		plain
		BackendList *[]BackendNode `json:"backend_list,omitempty"`
	}{plain: plain(v)}
	if v.BackendList != nil {
		out.BackendList = &v.BackendList
	}
	if out.CancelKeyHex == "" && v.CancelKey != nil {
		out.CancelKeyHex = KeyHex(*v.CancelKey)
	}
	return json.Marshal(out)
}

// CancelRequest is a CancelRequest packet read on a connection of its own,
// and how the process that read it handled it.
type CancelRequest struct {
	// PID is the backend pid the request names.
	PID int `json:"pid"`
	// Matched is true when a Backend with that pid and that cancel key was
	// on the list the checking process searched, so that it sent SIGINT.
	Matched bool `json:"matched"`
	// CheckedByPID is the process that read the packet and searched the
	// list: the connection's own child, never the postmaster.
	CheckedByPID int `json:"checked_by_pid"`
}

// FD is one open file descriptor of a process.
type FD struct {
	Num int `json:"fd"`
	// Kind names what the descriptor is for: see the FDKind constants.
	Kind string `json:"kind"`
	// Target is what the kernel reports it points at ("socket:[123]",
	// "pipe:[45]", a path), where known.
	Target string `json:"target,omitempty"`
}

// The kinds of file descriptor the vocabulary names.
const (
	FDListenSocket    = "listen socket"
	FDClientSocket    = "client socket"
	FDDeathPipeRead   = "postmaster death pipe (read end)"
	FDDeathPipeWrite  = "postmaster death pipe (write end)"
	FDEpoll           = "epoll"
	FDStdio           = "stdio"
	FDSyslogPipe      = "syslogger pipe"
	FDOther           = "other"
	FDDriverChannel   = "pgwalk control channel"
	FDPostmasterOther = "postmaster file"
)

// BackendNode is one Backend record of the postmaster's BackendList.
type BackendNode struct {
	PID       int   `json:"pid"`
	CancelKey int32 `json:"cancel_key"`
	// NoKey is true for a record that has no cancel key field (18.4's
	// PMChild: the backend makes its key itself); cancel_key is then left
	// out of the JSON encoding.
	NoKey          bool   `json:"-"`
	ChildSlot      int    `json:"child_slot"`
	BkendType      string `json:"bkend_type"`
	DeadEnd        bool   `json:"dead_end"`
	BgworkerNotify bool   `json:"bgworker_notify"`
}

// MarshalJSON encodes n, without cancel_key when the record has none.
func (n BackendNode) MarshalJSON() ([]byte, error) {
	type plain BackendNode // no methods: no recursion
	if !n.NoKey {
		return json.Marshal(plain(n))
	}
	return json.Marshal(struct {
		plain
		CancelKey *int32 `json:"cancel_key,omitempty"`
	}{plain: plain(n)})
}

// BackendKey is the content of a BackendKeyData message.
type BackendKey struct {
	PID int `json:"pid"`
	// SecretKey is a 4-byte key as an int32; a longer key (18.4, protocol
	// 3.2: 32 bytes) has only SecretKeyHex, and secret_key is left out.
	SecretKey int32 `json:"secret_key"`
	// SecretKeyHex is the key's bytes in hex, for a key of any length. The
	// JSON encoding derives it from SecretKey when a driver set only that.
	SecretKeyHex string `json:"secret_key_hex,omitempty"`
}

// MarshalJSON encodes k with secret_key_hex always, and secret_key only for
// a 4-byte key.
func (k BackendKey) MarshalJSON() ([]byte, error) {
	type plain BackendKey // no methods: no recursion
	if k.SecretKeyHex == "" {
		k.SecretKeyHex = KeyHex(k.SecretKey)
	}
	if len(k.SecretKeyHex) == 8 {
		return json.Marshal(plain(k))
	}
	return json.Marshal(struct {
		plain
		SecretKey *int32 `json:"secret_key,omitempty"`
	}{plain: plain(k)})
}

// Errno is an operating-system error number with its symbolic name.
type Errno struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Check is one cross-check between observed values.
type Check struct {
	// Key and Args say the check as a catalog message (see Msg); the
	// renderer fills Name and Detail from it in the reader's language,
	// in the JSON encoding too. A check without a Key is an old-style
	// one whose Name and Detail are English words.
	Key  string            `json:"key,omitempty"`
	Args map[string]string `json:"args,omitempty"`
	Name string            `json:"name"`
	OK   bool              `json:"ok"`
	// Detail gives the compared values.
	Detail string `json:"detail,omitempty"`
}

// Fact is one named observation that has no field of its own.
type Fact struct {
	// Key and Args say the fact as a catalog message (see Msg); the
	// renderer fills Name and Value from it in the reader's language, in
	// the JSON encoding too. A fact without a Key is an old-style one
	// whose Name and Value are English words.
	Key   string            `json:"key,omitempty"`
	Args  map[string]string `json:"args,omitempty"`
	Name  string            `json:"name"`
	Value string            `json:"value"`
}

// ClosedFDs returns the descriptors of before that after no longer holds:
// a number that after lacks, or that points at another target there (the
// descriptor was closed and the number reused).
func ClosedFDs(before, after []FD) []FD {
	still := make(map[string]bool, len(after))
	for _, fd := range after {
		still[strconv.Itoa(fd.Num)+" "+fd.Target] = true
	}
	var out []FD
	for _, fd := range before {
		if !still[strconv.Itoa(fd.Num)+" "+fd.Target] {
			out = append(out, fd)
		}
	}
	return out
}

// Int32 returns a pointer to v, for the optional fields of Values.
func Int32(v int32) *int32 { return &v }

// Int returns a pointer to v, for the optional fields of Values.
func Int(v int) *int { return &v }

// Bool returns a pointer to v, for the optional fields of Values.
func Bool(v bool) *bool { return &v }
