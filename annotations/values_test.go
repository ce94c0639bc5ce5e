package annotations_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live"
	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// This file proves that every value a note tells the reader to look at is
// there at the stop the note belongs to: it reads the names in each note's
// "What to look at" section, runs the drivers, and checks the stops.
//
// A code span of that section names a value when its first segment is a
// JSON key of walkthrough.Values (`child_pid`, `backend.pid`,
// `backend_list[0]`), or when it is a dotted path (`cancel_request.pid`),
// which must then resolve against walkthrough.Values. Other spans
// (`malloc`, `BACKEND_TYPE_NORMAL`, `fork()`) are prose. A bullet that
// holds a phase id in a code span (`fork`, `epilogue`) points at that
// phase's stop instead of the note's own.

// safety bounds every wait, so that a driver that never reaches a stop
// fails the test with a message instead of hanging it.
const safety = 60 * time.Second

// lookAtHeading is the heading of the "what to look at" section in each
// language the notes are written in.
var lookAtHeading = map[string]string{
	"en": "## What to look at",
	"ko": "## 눈여겨볼 값",
}

// run names the driver run a value is checked against.
type run string

const (
	// runNormal is the default run: pgwalk's own client connects once.
	runNormal run = "normal"
	// runForkFailure is the run with --scenario fork-failure.
	runForkFailure run = "fork-failure"
	// runCancel is a run where a second connection sends a CancelRequest
	// for the first; its values are checked on that second connection.
	runCancel run = "cancel"
)

// valueRef is one value a note points at: the path of the value in
// walkthrough.Values, the phase whose stop must carry it, and the run that
// makes that stop happen.
type valueRef struct {
	Path  string
	Phase walkthrough.PhaseID
	Run   run
}

func (r valueRef) String() string {
	return fmt.Sprintf("%s at %s (%s run)", r.Path, r.Phase, r.Run)
}

// codeSpanRE matches an inline code span.
var codeSpanRE = regexp.MustCompile("`([^`\n]+)`")

// valuePathRE matches a value path: lower-case JSON keys joined by dots,
// each optionally followed by [0] (the first element of a list).
var valuePathRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\[0\])?(\.[a-z][a-z0-9_]*(\[0\])?)*$`)

// cancelOnly are the values only a connection that sends a CancelRequest
// carries: the runCancel run checks them.
var cancelOnly = []string{"cancel_request"}

// lookAtSection returns the body of the section that starts with heading,
// up to the next second-level heading.
func lookAtSection(body, heading string) (string, bool) {
	i := strings.Index(body, heading+"\n")
	if i < 0 {
		return "", false
	}
	rest := body[i+len(heading)+1:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

// items splits a section into its bullets and paragraphs: a line that
// starts with "- " or follows a blank line begins a new item.
func items(section string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "- "):
			flush()
			cur = append(cur, line)
		default:
			cur = append(cur, line)
		}
	}
	flush()
	return out
}

// valuesKeys returns the JSON keys of walkthrough.Values.
func valuesKeys() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(walkthrough.Values{})
	for i := 0; i < t.NumField(); i++ {
		if name := jsonName(t.Field(i)); name != "" {
			keys[name] = true
		}
	}
	return keys
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// isPhaseID reports whether s names a phase or the closing check.
func isPhaseID(s string) bool {
	return s == string(walkthrough.Epilogue) || slices.Contains(walkthrough.PhaseIDs(), s)
}

// lookAtRefs returns the values the "what to look at" section of a note
// in lang points at, sorted. phase is the note's phase.
func lookAtRefs(body, lang string, phase walkthrough.PhaseID) ([]valueRef, error) {
	heading, ok := lookAtHeading[lang]
	if !ok {
		return nil, fmt.Errorf("no \"what to look at\" heading known for language %q", lang)
	}
	section, ok := lookAtSection(body, heading)
	if !ok {
		return nil, fmt.Errorf("no %q section", heading)
	}
	keys := valuesKeys()
	seen := map[valueRef]bool{}
	var refs []valueRef
	for _, item := range items(section) {
		target := phase
		var paths []string
		for _, m := range codeSpanRE.FindAllStringSubmatch(item, -1) {
			span := m[1]
			switch {
			case isPhaseID(span):
				target = walkthrough.PhaseID(span)
			case !valuePathRE.MatchString(span):
			case keys[rootOf(span)] || strings.Contains(span, "."):
				if strings.HasSuffix(span, ".c") || strings.HasSuffix(span, ".h") {
					continue // a file name
				}
				paths = append(paths, span)
			}
		}
		for _, p := range paths {
			r := valueRef{Path: p, Phase: target, Run: runNormal}
			if phase == walkthrough.ForkFailure {
				r.Run = runForkFailure
			} else if slices.Contains(cancelOnly, rootOf(p)) {
				r.Run = runCancel
			}
			if !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs, nil
}

// segment is one step of a value path.
type segment struct {
	name  string
	first bool // [0]: the first element of a list
}

func rootOf(path string) string {
	return parsePath(path)[0].name
}

func parsePath(path string) []segment {
	var segs []segment
	for _, part := range strings.Split(path, ".") {
		name, first := strings.CutSuffix(part, "[0]")
		segs = append(segs, segment{name: name, first: first})
	}
	return segs
}

// fieldByJSON returns the index of the field of struct type t whose JSON
// key is name.
func fieldByJSON(t reflect.Type, name string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// checkPath reports why path does not name a value of walkthrough.Values,
// or nil when it does.
func checkPath(path string) error {
	t := reflect.TypeOf(walkthrough.Values{})
	for i, s := range parsePath(path) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("%s: %s has no fields", path, parsePath(path)[i-1].name)
		}
		f, ok := fieldByJSON(t, s.name)
		if !ok {
			if i == 0 {
				return fmt.Errorf("%s: %s is not a JSON key of walkthrough.Values", path, s.name)
			}
			return fmt.Errorf("%s: %s has no field with the JSON key %s", path, t.Name(), s.name)
		}
		t = t.Field(f).Type
		if s.first {
			if t.Kind() != reflect.Slice {
				return fmt.Errorf("%s: %s is not a list, [0] makes no sense", path, s.name)
			}
			t = t.Elem()
		} else if t.Kind() == reflect.Slice && i < len(parsePath(path))-1 {
			return fmt.Errorf("%s: %s is a list: write %s[0] to name its first element", path, s.name, s.name)
		}
	}
	return nil
}

// present reports whether the value at path is there in v: a pointer that
// is not nil, a list that is not empty, a bool whose record is there, any
// other value that is not zero. checkPath(path) must be nil.
func present(v walkthrough.Values, path string) bool {
	cur := reflect.ValueOf(v)
	for _, s := range parsePath(path) {
		for cur.Kind() == reflect.Pointer {
			if cur.IsNil() {
				return false
			}
			cur = cur.Elem()
		}
		f, _ := fieldByJSON(cur.Type(), s.name)
		cur = cur.Field(f)
		if s.first {
			if cur.Len() == 0 {
				return false
			}
			cur = cur.Index(0)
		}
	}
	switch cur.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !cur.IsNil()
	case reflect.Slice, reflect.Map:
		return cur.Len() > 0
	case reflect.Bool:
		return true
	default:
		return !cur.IsZero()
	}
}

func TestLookAtRefs(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		phase   walkthrough.PhaseID
		want    []string
		wantErr bool
	}{
		{"plain keys", "## What to look at\n\n- `child_pid` is this process; `postmaster_pid` its parent.\n",
			walkthrough.Child, []string{"child_pid at child (normal run)", "postmaster_pid at child (normal run)"}, false},
		{"prose spans are not values", "## What to look at\n\n- `facts` name `malloc`, see `BACKEND_TYPE_NORMAL` and `fork()` and `launch_backend.c`.\n",
			walkthrough.StructCreation, []string{"facts at struct-creation (normal run)"}, false},
		{"a phase tag moves the bullet", "## What to look at\n\n- `log`: a line.\n- At the closing check (`epilogue`): `client_backend_key.pid` equals `child_pid`.\n",
			walkthrough.ParentRegistration, []string{"child_pid at epilogue (normal run)", "client_backend_key.pid at epilogue (normal run)", "log at parent-registration (normal run)"}, false},
		{"a tag holds for its bullet only", "## What to look at\n\n- At the fork stop (`fork`): `fork_return`.\n- `errno`: why.\n",
			walkthrough.ForkFailure, []string{"errno at fork-failure (fork-failure run)", "fork_return at fork (fork-failure run)"}, false},
		{"wrapped bullet", "## What to look at\n\n- `backend_list`: its head,\n  `backend_list[0]`, at (`epilogue`)\n",
			walkthrough.ParentRegistration, []string{"backend_list at epilogue (normal run)", "backend_list[0] at epilogue (normal run)"}, false},
		{"cancel values come from the cancel run", "## What to look at\n\n- At (`epilogue`): `cancel_request.matched` and `postmaster_pid`.\n",
			walkthrough.Child, []string{"cancel_request.matched at epilogue (cancel run)", "postmaster_pid at epilogue (normal run)"}, false},
		{"other sections are not read", "## What the code does\n\n`child_pid`\n\n## What to look at\n\n- `errno`\n\n## Later\n\n`fork_return`\n",
			walkthrough.ForkFailure, []string{"errno at fork-failure (fork-failure run)"}, false},
		{"korean heading", "## 눈여겨볼 값\n\n- `cancel_key`: 비밀 값\n", walkthrough.StructInit, []string{"cancel_key at struct-init (normal run)"}, false},
		{"no section", "## Something else\n\n- `child_pid`\n", walkthrough.Child, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := "en"
			if strings.Contains(tt.body, "눈여겨볼") {
				lang = "ko"
			}
			refs, err := lookAtRefs(tt.body, lang, tt.phase)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %t", err, tt.wantErr)
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("refs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValuePaths(t *testing.T) {
	ok := []string{"child_pid", "dead_end", "backend.pid", "backend.dead_end", "backend_list", "backend_list[0]",
		"backend_list[0].cancel_key", "client_backend_key.secret_key", "errno.name", "closed_fds", "facts"}
	for _, p := range ok {
		if err := checkPath(p); err != nil {
			t.Errorf("checkPath(%q) = %v, want nil", p, err)
		}
	}
	bad := []string{"no_such_value", "backend.no_such_field", "child_pid.x", "backend_list.pid", "backend[0]", "no_such.pid"}
	for _, p := range bad {
		if err := checkPath(p); err == nil {
			t.Errorf("checkPath(%q) = nil, want an error", p)
		}
	}
	v := walkthrough.Values{
		ChildPID:         42,
		DeadEnd:          walkthrough.Bool(false),
		ChildSlot:        walkthrough.Int(0),
		Backend:          &walkthrough.BackendNode{PID: 42},
		BackendList:      []walkthrough.BackendNode{{PID: 42}},
		ClientBackendKey: &walkthrough.BackendKey{PID: 42},
	}
	tests := []struct {
		path string
		want bool
	}{
		{"child_pid", true},
		{"postmaster_pid", false},
		{"dead_end", true},   // a pointer to false is an observation
		{"child_slot", true}, // a dead end's slot 0 too
		{"cancel_key", false},
		{"backend.pid", true},
		{"backend.cancel_key", false},
		{"backend.dead_end", true}, // the record is there, so is its flag
		{"backend_list", true},
		{"backend_list[0].pid", true},
		{"closed_fds", false},
		{"client_backend_key.secret_key", false},
		{"errno.name", false}, // through a nil pointer
	}
	for _, tt := range tests {
		if got := present(v, tt.path); got != tt.want {
			t.Errorf("present(%s) = %t, want %t", tt.path, got, tt.want)
		}
	}
}

// TestNotesNameValuesTheStopsCarry runs the re-enactment (and the live
// driver where this machine can trace) and checks that every value each
// note's "what to look at" section names, in English and in Korean, is
// there at the stop it belongs to.
func TestNotesNameValuesTheStopsCarry(t *testing.T) {
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range walkthrough.Versions() {
		t.Run(v.Name, func(t *testing.T) {
			refs := map[walkthrough.PhaseID][]valueRef{}
			for _, p := range walkthrough.Phases() {
				en, _, err := set.Note(v.Name, p.ID, "en")
				if err != nil {
					t.Fatal(err)
				}
				enRefs, err := lookAtRefs(en.Body, "en", p.ID)
				if err != nil {
					t.Fatalf("en %s: %v", p.ID, err)
				}
				if len(enRefs) == 0 {
					t.Errorf("en %s: \"What to look at\" names no value", p.ID)
				}
				for lang := range lookAtHeading {
					if lang == "en" {
						continue
					}
					tr, _, err := set.Note(v.Name, p.ID, lang)
					if err != nil {
						t.Fatal(err)
					}
					trRefs, err := lookAtRefs(tr.Body, lang, p.ID)
					if err != nil {
						t.Fatalf("%s %s: %v", lang, p.ID, err)
					}
					if !slices.Equal(trRefs, enRefs) {
						t.Errorf("%s %s names %v; the English note names %v", lang, p.ID, trRefs, enRefs)
					}
				}
				for _, r := range enRefs {
					if err := checkPath(r.Path); err != nil {
						t.Errorf("%s note: %v", p.ID, err)
						continue
					}
					refs[p.ID] = append(refs[p.ID], r)
				}
			}
			t.Run("reenact", func(t *testing.T) {
				runs := reenactRuns(t, v)
				for _, p := range walkthrough.Phases() {
					for _, r := range refs[p.ID] {
						checkRef(t, "reenact", p.ID, r, runs[r.Run])
					}
				}
			})
			t.Run("live", func(t *testing.T) {
				stops := liveRun(t, v)
				for _, p := range walkthrough.Phases() {
					for _, r := range refs[p.ID] {
						// The live driver cannot make a fork fail, and
						// PostgreSQL's own cancel connections are not walked.
						if r.Run == runNormal {
							checkRef(t, "live", p.ID, r, stops)
						}
					}
				}
			})
		})
	}
}

// checkRef fails t unless one of the stops of r.Phase carries r.Path.
func checkRef(t *testing.T, driver string, note walkthrough.PhaseID, r valueRef, stops []walkthrough.Event) {
	t.Helper()
	n := 0
	for _, ev := range stops {
		if ev.Phase != r.Phase {
			continue
		}
		n++
		if present(ev.Values, r.Path) {
			return
		}
	}
	if n == 0 {
		t.Errorf("%s note names %s, but the %s driver's %s run has no %s stop", note, r.Path, driver, r.Run, r.Phase)
		return
	}
	t.Errorf("%s note names %s, but none of the %d %s stop(s) of the %s driver's %s run carries it", note, r.Path, n, r.Phase, driver, r.Run)
}

// walkAll starts d, records every stop of its run and closes it.
func walkAll(t *testing.T, d walkthrough.Driver, v walkthrough.Version) []walkthrough.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	defer d.Close()
	if err := d.Start(ctx); err != nil {
		var unsupported *reenact.UnsupportedOSError
		if errors.As(err, &unsupported) {
			t.Skip(err)
		}
		t.Fatalf("%s: Start: %v", d.Name(), err)
	}
	s := walkthrough.NewSession(d, v)
	for {
		_, err := s.Next(ctx)
		if walkthrough.IsEOF(err) {
			return s.Stops()
		}
		if err != nil {
			t.Fatalf("%s: Next after %d stops: %v", d.Name(), len(s.Stops()), err)
		}
	}
}

// reenactRuns makes the three re-enactment runs the notes' values are
// checked against.
func reenactRuns(t *testing.T, v walkthrough.Version) map[run][]walkthrough.Event {
	t.Helper()
	return map[run][]walkthrough.Event{
		runNormal:      walkAll(t, reenact.New(walkthrough.DriverOptions{Version: v}), v),
		runForkFailure: walkAll(t, reenact.New(walkthrough.DriverOptions{Version: v, Scenario: walkthrough.ScenarioForkFailure}), v),
		runCancel:      cancelRun(t, v),
	}
}

// cancelRun walks the re-enactment while a client holds a session and a
// second connection sends a CancelRequest with the session's pid and key.
// It returns the stops of that second connection.
func cancelRun(t *testing.T, v walkthrough.Version) []walkthrough.Event {
	t.Helper()
	d := reenact.New(walkthrough.DriverOptions{Version: v, WaitForClient: true})
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		var unsupported *reenact.UnsupportedOSError
		if errors.As(err, &unsupported) {
			t.Skip(err)
		}
		t.Fatalf("reenact: Start: %v", err)
	}
	s := walkthrough.NewSession(d, v)
	events := make(chan walkthrough.Event, 64)
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				done <- err
				return
			}
			events <- ev
		}
	}()
	defer func() {
		cancel()
		<-done
	}()
	var stops []walkthrough.Event
	until := func(conn int, phase walkthrough.PhaseID) {
		t.Helper()
		for {
			select {
			case ev := <-events:
				stops = append(stops, ev)
				if ev.Connection == conn && ev.Phase == phase {
					return
				}
			case err := <-done:
				t.Fatalf("reenact: the run ended before connection %d reached %s: %v", conn, phase, err)
			case <-ctx.Done():
				t.Fatalf("reenact: connection %d did not reach %s within %s", conn, phase, safety)
			}
		}
	}
	sock := filepath.Join(d.SocketDir(), ".s.PGSQL."+strconv.Itoa(d.Port()))
	session := dial(t, sock)
	fe := pgproto3.NewFrontend(session, session)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "student", "database": "class"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	until(1, walkthrough.ParentRegistration)
	key := readKey(t, session, fe)

	c := dial(t, sock)
	secret := make([]byte, 4)
	binary.BigEndian.PutUint32(secret, uint32(key.SecretKey))
	cfe := pgproto3.NewFrontend(c, c)
	cfe.Send(&pgproto3.CancelRequest{ProcessID: uint32(key.PID), SecretKey: secret})
	if err := cfe.Flush(); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL answers a CancelRequest with nothing and closes.
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		t.Errorf("after the CancelRequest the server sent %d bytes (%v), want nothing", n, err)
	}
	until(2, walkthrough.Epilogue)

	fe.Send(&pgproto3.Terminate{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	until(1, walkthrough.Epilogue)

	var second []walkthrough.Event
	for _, ev := range stops {
		if ev.Connection == 2 {
			second = append(second, ev)
		}
	}
	// The note says a CancelRequest connection is walked like any other.
	for _, p := range []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.Fork, walkthrough.Child, walkthrough.Epilogue} {
		if !slices.ContainsFunc(second, func(ev walkthrough.Event) bool { return ev.Phase == p }) {
			t.Errorf("the CancelRequest connection was not walked through %s", p)
		}
	}
	return second
}

func dial(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", path, safety)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	return c
}

// readKey reads the session's answer up to ReadyForQuery and returns its
// BackendKeyData.
func readKey(t *testing.T, c net.Conn, fe *pgproto3.Frontend) walkthrough.BackendKey {
	t.Helper()
	var key walkthrough.BackendKey
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("session: no ReadyForQuery: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.BackendKeyData:
			key = walkthrough.BackendKey{PID: int(m.ProcessID), SecretKey: int32(binary.BigEndian.Uint32(m.SecretKey))}
		case *pgproto3.ErrorResponse:
			t.Fatalf("session: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			if key.PID == 0 {
				t.Fatal("session: ReadyForQuery without BackendKeyData")
			}
			return key
		}
	}
}

// liveRun walks one connection with the live driver on the PostgreSQL
// build that scripts/install-pg.sh installs. It skips where this machine
// cannot trace or, outside CI, where the build is not installed.
func liveRun(t *testing.T, v walkthrough.Version) []walkthrough.Event {
	t.Helper()
	if err := live.Supported(); err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(live.PGCacheDir(), v.Name, "bin")
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		msg := fmt.Sprintf("PostgreSQL %s is not installed in %s: run scripts/install-pg.sh", v.Name, bin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return walkAll(t, live.New(walkthrough.DriverOptions{Version: v, PGBin: bin}), v)
}
