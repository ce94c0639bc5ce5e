package walkthrough

import (
	"fmt"
	"strings"
)

// Facts are what a driver needs to know about a release's BackendStartup.
type Facts struct {
	Startup   Startup   `yaml:"startup"`
	Functions Functions `yaml:"functions"`
	Child     ChildPath `yaml:"child"`
	CancelKey CancelKey `yaml:"cancel_key"`
	ChildList ChildList `yaml:"child_list"`
	Record    Record    `yaml:"record"`
	// StructInit lists what struct init sets, in the release's order.
	StructInit []InitStep `yaml:"struct_init"`
	// Cites are places in the release's code a driver names, by key:
	// "param_file", "cancel_check", "signal_child", "server_loop_close",
	// "report_fork_failure".
	Cites map[string]string `yaml:"cites"`
	// CanAccept are the names of the CAC_state enum, in declaration order:
	// the value canAcceptConnections returns indexes it.
	CanAccept []string `yaml:"can_accept"`
	Symbols   Symbols  `yaml:"symbols"`
	// Protocol is the range of protocol versions the release speaks.
	Protocol Protocol `yaml:"protocol"`
	// Pool is the fixed pool a connection's record is taken from, where
	// the release has one (18's pmchild.c); nil where BackendStartup
	// allocates a record for every connection.
	Pool *Pool `yaml:"pool"`
	// ForkedLog is the DEBUG2 line BackendStartup logs after a successful
	// fork, with the placeholders {type} (the record's bkend_type, by its
	// Enumerator.Desc), {pid} and {socket}: "forked new {type}, pid={pid}
	// socket={socket}".
	ForkedLog string `yaml:"forked_log"`
	// ExitName is how the postmaster names a client backend when it logs
	// the backend's exit (LogChildExit, from CleanupBackend): "server
	// process", or "{type}" for the record's bkend_type by its
	// Enumerator.Desc ("client backend").
	ExitName string `yaml:"exit_name"`
	// ClientSocket is the record Functions.AcceptSocket fills for a new
	// connection, where a driver reads which client connected.
	ClientSocket ClientSocket `yaml:"client_socket"`
}

// Protocol is the range of frontend/backend protocol versions a release
// speaks, as PG_PROTOCOL_EARLIEST and PG_PROTOCOL_LATEST say it.
type Protocol struct {
	// Earliest and Latest are protocol versions: "3.0", "3.2".
	Earliest string `yaml:"earliest"`
	Latest   string `yaml:"latest"`
	// NegotiateAt is where ProcessStartupPacket answers a newer minor
	// version, or protocol options it does not know, with
	// NegotiateProtocolVersion: "backend_startup.c:840-842".
	NegotiateAt string `yaml:"negotiate_at"`
}

// Pool is the fixed pool of records the postmaster takes a client
// backend's record from (18's pmchild.c): the entries and their slot
// numbers exist from start-up, an allocation pops the head of the pool's
// free list, and a release pushes the entry back onto it. A connection
// that finds the pool empty gets a dead-end record instead.
type Pool struct {
	// BackendType is the pool a connection's entry comes from, a name of
	// Record.BkendTypes: "B_BACKEND".
	BackendType string `yaml:"backend_type"`
	// Size is how the release sizes the pool, as its code writes it:
	// "2 * (MaxConnections + max_wal_senders)"; SizeAt is where.
	Size   string `yaml:"size"`
	SizeAt string `yaml:"size_at"`
	// FirstSlot is the slot number of the pool's first entry.
	FirstSlot int `yaml:"first_slot"`
	// Empty is the accept state BackendStartup turns an empty pool into,
	// a name of CanAccept ("CAC_TOOMANY"); EmptyAt is where.
	Empty   string `yaml:"empty"`
	EmptyAt string `yaml:"empty_at"`
	// PushAt is where the allocation puts an entry on the child list:
	// "pmchild.c:191"; DeadEndPushAt is where a dead-end one goes there.
	PushAt        string `yaml:"push_at"`
	DeadEndPushAt string `yaml:"dead_end_push_at"`
	// ClientSocket is the record Functions.AcceptSocket fills for a new
	// connection, where a driver reads which client connected.
	ClientSocket ClientSocket `yaml:"client_socket"`
}

// ClientSocket is the record the accept function fills for a new
// connection (its second argument): the client's socket and address.
type ClientSocket struct {
	// Type is the C type: "Port", "ClientSocket".
	Type string `yaml:"type"`
	// Layouts gives, per architecture (by GOARCH name), where its fields
	// lie.
	Layouts map[string]SocketLayout `yaml:"layouts"`
}

// SocketLayout is where a ClientSocket's fields lie, in bytes from its
// start.
type SocketLayout struct {
	// Sock is the offset of the socket (a pgsocket, an int on Unix).
	Sock int `yaml:"sock"`
	// RAddr is the offset of the client's address (raddr, a SockAddr:
	// a sockaddr_storage and its length).
	RAddr int `yaml:"raddr"`
}

// Startup describes BackendStartup's signature and where its accept decision
// travels to the child.
type Startup struct {
	// Function is the function walked: "BackendStartup".
	Function string `yaml:"function"`
	// Param and ParamType are its connection parameter: "port", "Port".
	Param     string `yaml:"param"`
	ParamType string `yaml:"param_type"`
	// StartupData is the struct that carries data to the child, if any:
	// "BackendStartupData".
	StartupData string `yaml:"startup_data"`
	// CanAcceptField is where the canAcceptConnections result travels to
	// the child: "port->canAcceptConnections".
	CanAcceptField string `yaml:"can_accept_field"`
}

// Functions names the functions of the path by the part they play.
type Functions struct {
	// AcceptSocket accepts the client's socket just before BackendStartup:
	// "StreamConnection", "AcceptConnection".
	AcceptSocket string `yaml:"accept_socket"`
	// Accept decides whether the connection may become a normal backend:
	// "canAcceptConnections".
	Accept Call `yaml:"accept"`
	// Allocate creates the postmaster's record of the child.
	Allocate Call `yaml:"allocate"`
	// AllocateDeadEnd creates the record of a child that only sends an
	// error, where that is a call of its own ("AllocDeadEndChild").
	AllocateDeadEnd Call `yaml:"allocate_dead_end"`
	// AssignSlot hands out the child slot: "AssignPostmasterChildSlot".
	AssignSlot Call `yaml:"assign_slot"`
	// Release gives the record back when the fork fails.
	Release Call `yaml:"release"`
	// ReleaseSlot gives the child slot back: "ReleasePostmasterChildSlot".
	ReleaseSlot Call `yaml:"release_slot"`
	// CloseSocket is the call by which the postmaster closes its copy of
	// the client socket once BackendStartup has returned ("close" of the
	// C library): the postmaster's first call of it after the fork comes
	// after the registration.
	CloseSocket Call `yaml:"close_socket"`
	// Launch creates the child; in an EXEC_BACKEND build it forks and
	// execs ("backend_forkexec", "postmaster_child_launch").
	Launch Call `yaml:"launch"`
	// Fork is the call that returns twice in a fork build: "fork_process".
	Fork Call `yaml:"fork"`
	// Run is the child's path once its cleanup is done, in call order:
	// "BackendInitialize", "BackendRun", "PostgresMain".
	Run []string `yaml:"run"`
}

// Call is one call of the path: the function and its arguments as the
// source writes them.
type Call struct {
	Function string `yaml:"function"`
	// Library is "libc" for a C library function, "" for PostgreSQL's own.
	Library string `yaml:"library"`
	Args    []Arg  `yaml:"args"`
}

// Arg is one argument of a Call. Value, when set, is the argument's value
// in the official x86-64 build, for a driver that tells this call apart
// from other calls of the same function by its arguments.
type Arg struct {
	Name  string `yaml:"name"`
	Value *int64 `yaml:"value"`
}

// String returns the call as the source writes it: "malloc(sizeof(Backend))".
func (c Call) String() string {
	if c.Function == "" {
		return ""
	}
	names := make([]string, len(c.Args))
	for i, a := range c.Args {
		names[i] = a.Name
	}
	return c.Function + "(" + strings.Join(names, ", ") + ")"
}

// ChildPath is what the new child does before it becomes a backend.
type ChildPath struct {
	// Steps are the child's cleanup, in the order the release runs it:
	// "InitPostmasterChild", "ClosePostmasterPorts".
	Steps []string `yaml:"steps"`
	// FreesRecord is true when the forked child frees its copy of the
	// postmaster's record of it.
	FreesRecord bool `yaml:"frees_record"`
	// SetsSlot is true when the child sets MyPMChildSlot itself instead of
	// inheriting the postmaster's value.
	SetsSlot bool `yaml:"sets_slot"`
	// ForkExec forks and execs the child in an EXEC_BACKEND build:
	// "internal_forkexec".
	ForkExec string `yaml:"forkexec"`
	// Exec is how an EXEC_BACKEND build runs the new backend.
	Exec string `yaml:"exec"`
	// ForkAt is where the fork path runs Steps: "postmaster.c:4174, 4177".
	ForkAt string `yaml:"fork_at"`
	// ExecEntry is where an exec'd child starts: "SubPostmasterMain".
	ExecEntry string `yaml:"exec_entry"`
	// ExecSteps are the same steps in the order the EXEC_BACKEND path
	// runs them, and ExecAt is where it does.
	ExecSteps []string `yaml:"exec_steps"`
	ExecAt    string   `yaml:"exec_at"`
	// SlotAt is where the child sets MyPMChildSlot, when SetsSlot.
	SlotAt string `yaml:"slot_at"`
}

// InitStep is one thing struct init sets, with where the release sets it.
type InitStep struct {
	// Role is what the step does, in words every release shares:
	// random_key, record_key, accept, dead_end, slot, bgworker_notify.
	Role string `yaml:"role"`
	// Step names it as the code does: "RandomCancelKey", "bn->cancel_key".
	Step string `yaml:"step"`
	// At is the line or lines: "4139", "4157-4160".
	At string `yaml:"at"`
}

// CancelKey says where the connection's cancel key is made and how wide it is.
type CancelKey struct {
	// MadeIn is the process that generates the key.
	MadeIn Process `yaml:"made_in"`
	// Function generates it: "RandomCancelKey", "PostgresMain".
	Function string `yaml:"function"`
	// Variable holds it in the process that made it: "MyCancelKey".
	Variable string `yaml:"variable"`
	// LengthVariable holds its length where the length varies:
	// "MyCancelKeyLength".
	LengthVariable string `yaml:"length_variable"`
	// At is where the key is made, when MadeIn is the backend:
	// "postgres.c:4264-4282".
	At string `yaml:"at"`
	// PublishedBy is the function that puts the key where a cancel
	// request is checked, when that is shared memory: "ProcSignalInit".
	PublishedBy string `yaml:"published_by"`
	// FilledBy is the call that writes the key into Variable, given the
	// variable's address and the key's length: "pg_strong_random".
	FilledBy string `yaml:"filled_by"`
	// InRecord is true when the postmaster's record of the child keeps a
	// copy (Backend.cancel_key).
	InRecord bool `yaml:"in_record"`
	// Widths are the key's lengths, by the protocol version the client
	// asks for (see BytesFor).
	Widths []KeyWidth `yaml:"widths"`
	// Request says which keys a CancelRequest may carry.
	Request CancelRequestFacts `yaml:"request"`
	// CheckedBy is the function that checks a cancel request's key, and
	// CheckedAgainst what it compares with: CheckInheritedList or
	// CheckSharedMemory.
	CheckedBy      string `yaml:"checked_by"`
	CheckedAgainst string `yaml:"checked_against"`
}

// Where a cancel request's key is checked.
const (
	// CheckInheritedList: the new connection's child searches the copy of
	// the postmaster's child list it inherited.
	CheckInheritedList = "inherited-list"
	// CheckSharedMemory: the new connection's child compares with the
	// keys the backends published in shared memory.
	CheckSharedMemory = "shared-memory"
)

// CancelRequestFacts say how long the key of a CancelRequest may be, and
// what the release logs for one of another length.
type CancelRequestFacts struct {
	// MinBytes and MaxBytes bound the key's length: 4 and 4 where the
	// packet has a fixed size, 1 and 256 in 18.
	MinBytes int `yaml:"min_bytes"`
	MaxBytes int `yaml:"max_bytes"`
	// ShortLog is the COMMERROR logged for a packet too short to hold a
	// pid, and BadLengthLog the one for a key of another length.
	ShortLog     string `yaml:"short_log"`
	BadLengthLog string `yaml:"bad_length_log"`
}

// KeyWidth is the length of the cancel key for one protocol version.
type KeyWidth struct {
	// Protocol is the lowest protocol version a client asks for that
	// gets this width: "3.0", "3.2".
	Protocol string `yaml:"protocol"`
	Bytes    int    `yaml:"bytes"`
}

// BytesFor returns the width of the key of a client that asked for
// protocol requested ("3.1"): the width of the highest listed protocol at
// or below it, as 18's PostgresMain tests the version the client asked
// for (MyProcPort->proto), not the one it settled on. It returns 0 when
// no width applies.
func (k CancelKey) BytesFor(requested string) int {
	best, bytes := -1, 0
	rq, ok := ProtocolNumber(requested)
	if !ok {
		return 0
	}
	for _, w := range k.Widths {
		p, ok := ProtocolNumber(w.Protocol)
		if ok && p <= rq && p > best {
			best, bytes = p, w.Bytes
		}
	}
	return bytes
}

// ProtocolNumber returns protocol version s ("3.2") as PostgreSQL's
// PG_PROTOCOL(major, minor) writes it: major<<16 | minor.
func ProtocolNumber(s string) (int, bool) {
	if !protocolVersion.MatchString(s) {
		return 0, false
	}
	var major, minor int
	if _, err := fmt.Sscanf(s, "%d.%d", &major, &minor); err != nil || minor > 0xffff {
		return 0, false
	}
	return major<<16 | minor, true
}

// ProtocolName returns protocol number n as "3.2".
func ProtocolName(n uint32) string { return fmt.Sprintf("%d.%d", n>>16, n&0xffff) }

// Bytes returns the width of the key for protocol, 0 when the release
// has no key for it.
func (k CancelKey) Bytes(protocol string) int {
	for _, w := range k.Widths {
		if w.Protocol == protocol {
			return w.Bytes
		}
	}
	return 0
}

// ChildList is the postmaster's list of its children.
type ChildList struct {
	// Name is the list's variable: "BackendList", "ActiveChildList".
	Name string `yaml:"name"`
	// JoinedIn is the phase whose code puts a new child's record on the
	// list: parent-registration (after the fork) or struct-creation (at
	// allocation, before the fork).
	JoinedIn PhaseID `yaml:"joined_in"`
	// Push is how it gets there: "dlist_push_head".
	Push string `yaml:"push"`
}

// Record is the postmaster's record of one child.
type Record struct {
	// Type is the C type: "Backend", "PMChild".
	Type string `yaml:"type"`
	// Layouts gives its layout per architecture, by GOARCH name.
	Layouts map[string]RecordLayout `yaml:"layouts"`
	// BkendTypes are the values of its bkend_type field that pgwalk names.
	BkendTypes []Enumerator `yaml:"bkend_types"`
	// Normal is the bkend_type of a client backend: "BACKEND_TYPE_NORMAL".
	Normal string `yaml:"normal"`
	// DeadEnd is the bkend_type of a dead-end child where that is a type
	// of its own ("B_DEAD_END_BACKEND"); "" where a dead_end field says it.
	DeadEnd string `yaml:"dead_end"`
}

// Desc returns the description of bkend_type name (GetBackendTypeDesc's
// words, "client backend"), or name itself when the manifest gives none.
func (r Record) Desc(name string) string {
	for _, e := range r.BkendTypes {
		if e.Name == name && e.Desc != "" {
			return e.Desc
		}
	}
	return name
}

// Value returns the value of the bkend_type called name.
func (r Record) Value(name string) (int64, bool) {
	for _, e := range r.BkendTypes {
		if e.Name == name {
			return e.Value, true
		}
	}
	return 0, false
}

// TypeName returns the name of the bkend_type value v, or a number in
// brackets for a value the manifest does not name: "bkend_type(3)".
func (r Record) TypeName(v int64) string {
	for _, e := range r.BkendTypes {
		if e.Value == v {
			return e.Name
		}
	}
	return fmt.Sprintf("bkend_type(%d)", v)
}

// Enumerator is one named value of a C enum or set of flags.
type Enumerator struct {
	Name  string `yaml:"name"`
	Value int64  `yaml:"value"`
	// Desc is how the release describes the value in its messages, where
	// pgwalk shows it (GetBackendTypeDesc: "client backend").
	Desc string `yaml:"desc"`
}

// RecordLayout is where a record's fields lie, in bytes from its start.
type RecordLayout struct {
	Size   int     `yaml:"size"`
	Fields []Field `yaml:"fields"`
}

// Field is one field of a RecordLayout.
type Field struct {
	Name   string `yaml:"name"`
	Offset int    `yaml:"offset"`
	// Type is one of the FieldTypes.
	Type string `yaml:"type"`
}

// FieldTypes gives the size in bytes of each field type a RecordLayout may use.
var FieldTypes = map[string]int{"int32": 4, "bool": 1, "pointer": 8, "dlist_node": 16}

// Field returns the field called name.
func (l RecordLayout) Field(name string) (Field, bool) {
	for _, f := range l.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Symbols are facts about the official build's symbol table.
type Symbols struct {
	// Build names the official build these facts were read from.
	Build string `yaml:"build"`
	// Inlined are functions of the path that have no symbol of their own
	// there: the compiler folded them into their callers.
	Inlined   []string  `yaml:"inlined"`
	Variables Variables `yaml:"variables"`
}

// Variables names the global variables a driver reads.
type Variables struct {
	// ChildSlot is the child's slot number: "MyPMChildSlot".
	ChildSlot string `yaml:"child_slot"`
	// ProcPID is the process's own pid: "MyProcPid".
	ProcPID string `yaml:"proc_pid"`
	// AliveFDs are the postmaster-death pipe's ends: "postmaster_alive_fds".
	AliveFDs string `yaml:"alive_fds"`
	// SyslogPipe is the logging collector's pipe: "syslogPipe".
	SyslogPipe string `yaml:"syslog_pipe"`
}

// IsInlined reports whether fn has no symbol of its own in the official build.
func (s Symbols) IsInlined(fn string) bool {
	for _, f := range s.Inlined {
		if f == fn {
			return true
		}
	}
	return false
}
