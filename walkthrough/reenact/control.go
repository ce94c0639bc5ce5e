package reenact

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The control channel is a socket pair between the postmaster and one
// child. Each message is one JSON object on one line.

// The postmaster's messages to a child.
const (
	// msgVars carries the backend variables, as EXEC_BACKEND's
	// backend_var file does.
	msgVars = "vars"
	// msgProceed lets the child run to its next stop.
	msgProceed = "proceed"
)

// A child's messages to the postmaster.
const (
	// msgChildStop reports the child stop: fds and the first steps.
	msgChildStop = "child-stop"
	// msgStartup reports what the backend sent during startup.
	msgStartup = "startup"
	// msgCancel reports a CancelRequest the child read from its client,
	// checked against its copy of BackendList, and what it did about it.
	msgCancel = "cancel"
	// msgSignal reports a signal the backend received.
	msgSignal = "signal"
	// msgError reports an error that ends the backend.
	msgError = "error"
	// msgQuery reports a query the backend refused or ran.
	msgQuery = "query"
	// msgRunning reports that a statement (pg_sleep) started: from now on
	// a cancel request has something to cancel.
	msgRunning = "running"
)

// inodeDeathPipe names the death pipe in backendVars.Inodes; the child
// tells its two ends apart by their access mode.
const inodeDeathPipe = "death pipe"

// backendVars are the values the postmaster hands a new backend, the
// analogue of PostgreSQL's BackendParameters.
type backendVars struct {
	Version       string `json:"version"`
	PostmasterPID int    `json:"postmaster_pid"`
	CancelKey     int32  `json:"cancel_key"`
	ChildSlot     int    `json:"child_slot"`
	CanAccept     string `json:"can_accept"`
	DeadEnd       bool   `json:"dead_end"`
	// BackendList is the postmaster's list at launch, head first: the
	// copy a forked child would have, searched for a CancelRequest where
	// the release checks cancel requests against it.
	BackendList []walkthrough.BackendNode `json:"backend_list"`
	// Wire is what the backend needs to know of the release.
	Wire wireFacts `json:"wire"`
	// KeysPath is the file of the shared key table and KeyRows its
	// rows, where the release checks cancel requests against the keys
	// the backends published; "" otherwise.
	KeysPath string `json:"keys_path,omitempty"`
	KeyRows  int    `json:"key_rows,omitempty"`
	// Roles maps the child's fd numbers to FD kinds.
	Roles map[int]string `json:"roles"`
	// Inodes maps the inode of every object the postmaster passed to its
	// FD kind; pipe ends share one inode, so pipes are named by pipe.
	Inodes map[uint64]string `json:"inodes"`
	// Inherited lists the fds above the passed ones that the postmaster
	// holds without close-on-exec: the child inherits them as well.
	Inherited []int `json:"inherited,omitempty"`
}

// toChild is a message from the postmaster to a child.
type toChild struct {
	Type string       `json:"type"`
	Vars *backendVars `json:"vars,omitempty"`
}

// fromChild is a message from a child to the postmaster.
type fromChild struct {
	Type string `json:"type"`
	PID  int    `json:"pid,omitempty"`

	// child-stop
	PPID      int              `json:"ppid,omitempty"`
	SID       int              `json:"sid,omitempty"`
	Steps     []string         `json:"steps,omitempty"`
	FDsBefore []walkthrough.FD `json:"fds_before,omitempty"`
	FDsAfter  []walkthrough.FD `json:"fds_after,omitempty"`
	// Facts are what the child observed, said as catalog facts: at its
	// stop, what its first steps did; with a signal, what the signal did;
	// with a query the backend ran, what became of it.
	Facts []walkthrough.Fact `json:"facts,omitempty"`
	// MyCancelKey and MyPMChildSlot as the child holds them.
	MyCancelKey   int32 `json:"my_cancel_key"`
	MyPMChildSlot int   `json:"my_pm_child_slot"`

	// startup
	User        string   `json:"user,omitempty"`
	Database    string   `json:"database,omitempty"`
	Application string   `json:"application,omitempty"`
	Protocol    string   `json:"protocol,omitempty"`
	Sent        []string `json:"sent,omitempty"`
	KeyPID      int      `json:"key_pid,omitempty"`
	// Key is a 4-byte key as an int32, KeyHex the key of any length in
	// hex, and KeyMade true when the backend made it itself.
	Key     int32  `json:"key,omitempty"`
	KeyHex  string `json:"key_hex,omitempty"`
	KeyMade bool   `json:"key_made,omitempty"`
	// Negotiated is the protocol version the session goes on at, and
	// Options the protocol options the server did not know, when it sent
	// NegotiateProtocolVersion (Negotiated = Protocol otherwise).
	Negotiated string   `json:"negotiated,omitempty"`
	Options    []string `json:"options,omitempty"`

	// cancel, signal, error, query
	TargetPID int    `json:"target_pid,omitempty"`
	Signal    string `json:"signal,omitempty"`
	Text      string `json:"text,omitempty"`

	// cancel: whether the list held that pid with that key, what the
	// child sent (its kill calls, as C says them: "kill(123, SIGINT) = 0")
	// and how long the list was.
	Matched bool     `json:"matched,omitempty"`
	Kills   []string `json:"kills,omitempty"`
	ListLen int      `json:"list_len,omitempty"`
	// cancel, checked in the shared key table: its rows, and how many
	// held a published key.
	Rows      int `json:"rows,omitempty"`
	Published int `json:"published,omitempty"`

	// query: the line PostgreSQL would log for it, if any (Facts say
	// what became of a query the backend ran; none come with one it
	// refused).
	Log string `json:"log,omitempty"`
}

// ctlWriter writes control messages; it is safe for concurrent use.
type ctlWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (c *ctlWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode control message: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(append(c.buf[:0], b...), '\n')
	if _, err := c.w.Write(c.buf); err != nil {
		return fmt.Errorf("write control channel: %w", err)
	}
	return nil
}

// ctlReader reads control messages.
type ctlReader struct {
	r *bufio.Reader
}

func newCtlReader(r io.Reader) *ctlReader { return &ctlReader{r: bufio.NewReader(r)} }

func (c *ctlReader) recv(v any) error {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return io.EOF
		}
		return fmt.Errorf("read control channel: %w", err)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decode control message: %w", err)
	}
	return nil
}
