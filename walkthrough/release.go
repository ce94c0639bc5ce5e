package walkthrough

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Release is one PostgreSQL release as its manifest (release.yaml) describes
// it: the release itself, the files its notes cite, the facts a driver needs
// to walk BackendStartup there, and the stops every driver reports. A driver
// reads these facts; it never branches on a version number.
type Release struct {
	Version Version
	// Files are the source files the release's notes cite.
	Files []string
	Facts Facts
	// Plans holds one stop plan per scenario, in the order of Scenarios.
	Plans []StopPlan
}

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
	// "param_file", "cancel_check", "signal_child", "server_loop_close".
	Cites map[string]string `yaml:"cites"`
	// CanAccept are the names of the CAC_state enum, in declaration order:
	// the value canAcceptConnections returns indexes it.
	CanAccept []string `yaml:"can_accept"`
	Symbols   Symbols  `yaml:"symbols"`
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
	// FilledBy is the call that writes the key into Variable, given the
	// variable's address and the key's length: "pg_strong_random".
	FilledBy string `yaml:"filled_by"`
	// InRecord is true when the postmaster's record of the child keeps a
	// copy (Backend.cancel_key).
	InRecord bool `yaml:"in_record"`
	// Widths are the key's lengths, by the protocol the client speaks.
	Widths []KeyWidth `yaml:"widths"`
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

// KeyWidth is the length of the cancel key for one protocol version.
type KeyWidth struct {
	// Protocol is the protocol version the client negotiated: "3.0".
	Protocol string `yaml:"protocol"`
	Bytes    int    `yaml:"bytes"`
}

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

// StopPlan is the ordered stops of one scenario.
type StopPlan struct {
	Scenario string
	Stops    []PlannedStop
}

// PlannedStop is one stop of a plan: where every driver stops, in which
// process, and which values a driver that observes reports there.
type PlannedStop struct {
	Phase   PhaseID `yaml:"phase"`
	Process Process `yaml:"process"`
	// Point is the stop's stable key: "record-allocated".
	Point string `yaml:"point"`
	// At says where in the release's code the stop is.
	At string `yaml:"at"`
	// Values are keys of Values (their JSON names) that a driver that
	// observes reports at this stop.
	Values []string `yaml:"values"`
}

// Plan returns the stop plan of scenario ("" means "normal").
func (r *Release) Plan(scenario string) (StopPlan, error) {
	if scenario == "" {
		scenario = ScenarioNormal
	}
	for _, p := range r.Plans {
		if p.Scenario == scenario {
			return p, nil
		}
	}
	return StopPlan{}, fmt.Errorf("release %s has no plan for scenario %q (scenarios: %s)", r.Version.Name, scenario, strings.Join(r.scenarios(), ", "))
}

func (r *Release) scenarios() []string {
	out := make([]string, len(r.Plans))
	for i, p := range r.Plans {
		out[i] = p.Scenario
	}
	return out
}

// manifest is release.yaml as written.
type manifest struct {
	Release string                   `yaml:"release"`
	Tag     string                   `yaml:"tag"`
	Major   int                      `yaml:"major"`
	Files   []string                 `yaml:"files"`
	Facts   Facts                    `yaml:"facts"`
	Plans   map[string][]PlannedStop `yaml:"plans"`
}

// ManifestError says what is wrong with a release manifest.
type ManifestError struct {
	File  string
	Field string
	Msg   string
}

func (e *ManifestError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// ParseRelease reads and checks one release manifest; name is used in
// errors. It does no I/O.
func ParseRelease(name string, data []byte) (*Release, error) {
	var m manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, &ManifestError{File: name, Msg: err.Error()}
	}
	r := &Release{
		Version: Version{Name: m.Release, Tag: m.Tag, Major: m.Major},
		Files:   m.Files,
		Facts:   m.Facts,
	}
	for _, sc := range Scenarios {
		if stops, ok := m.Plans[sc]; ok {
			r.Plans = append(r.Plans, StopPlan{Scenario: sc, Stops: stops})
		}
	}
	for sc := range m.Plans {
		if !isScenario(sc) {
			return nil, &ManifestError{File: name, Field: "plans", Msg: fmt.Sprintf("unknown scenario %q (scenarios: %s)", sc, strings.Join(Scenarios, ", "))}
		}
	}
	if err := r.validate(); err != nil {
		err.File = name
		return nil, err
	}
	r.Version.release = r
	return r, nil
}

func isScenario(s string) bool {
	for _, sc := range Scenarios {
		if s == sc {
			return true
		}
	}
	return false
}
