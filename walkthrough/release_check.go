package walkthrough

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// ValueKeys returns the JSON names of the fields of Values, in field order:
// the keys a stop plan may name.
func ValueKeys() []string {
	t := reflect.TypeOf(Values{})
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

var (
	releaseName     = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	protocolVersion = regexp.MustCompile(`^3\.[0-9]+$`)
	sha256Hex       = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// phaseRank orders the phases a plan may name: a plan's stops never go
// back in this order. The fork-failure branch takes the place of the child
// and registration; the closing check comes last.
func phaseRank(id PhaseID) (int, bool) {
	switch id {
	case ForkFailure:
		return 4, true
	case Epilogue:
		return MainPhaseCount + 1, true
	}
	for _, p := range phases {
		if p.ID == id {
			return p.Number, true
		}
	}
	return 0, false
}

// validate checks a release read from its manifest. The error's File is
// left for the caller to fill.
func (r *Release) validate() *ManifestError {
	bad := func(field, format string, args ...any) *ManifestError {
		return &ManifestError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	v := r.Version
	switch {
	case !releaseName.MatchString(v.Name):
		return bad("release", "%q is not a release number such as 17.1", v.Name)
	case v.Tag == "":
		return bad("tag", "missing")
	case v.Major <= 0 || !strings.HasPrefix(v.Name, fmt.Sprint(v.Major)+"."):
		return bad("major", "%d does not match release %s", v.Major, v.Name)
	case len(r.Files) == 0:
		return bad("files", "a release cites at least one file")
	}
	for i, f := range r.Files {
		if f == "" || path.IsAbs(f) || path.Clean(f) != f || strings.HasPrefix(f, "../") {
			return bad(fmt.Sprintf("files[%d]", i), "%q is not a clean path in PostgreSQL's tree", f)
		}
		if slices.Contains(r.Files[:i], f) {
			return bad(fmt.Sprintf("files[%d]", i), "%s is listed twice", f)
		}
	}
	for f, sum := range r.FileSHA256 {
		if !slices.Contains(r.Files, f) {
			return bad("file_sha256", "%s is not one of files", f)
		}
		if !sha256Hex.MatchString(sum) {
			return bad("file_sha256", "%s: %q is not a SHA-256 in lower-case hex", f, sum)
		}
	}
	if err := r.Facts.validate(bad); err != nil {
		return err
	}
	if _, err := r.Plan(ScenarioNormal); err != nil {
		return bad("plans", "no plan for the %q scenario", ScenarioNormal)
	}
	for _, p := range r.Plans {
		if err := p.validate(bad); err != nil {
			return err
		}
	}
	return nil
}

type badFunc func(field, format string, args ...any) *ManifestError

func (f *Facts) validate(bad badFunc) *ManifestError {
	required := []struct{ field, value string }{
		{"facts.startup.function", f.Startup.Function},
		{"facts.startup.param", f.Startup.Param},
		{"facts.startup.param_type", f.Startup.ParamType},
		{"facts.startup.can_accept_field", f.Startup.CanAcceptField},
		{"facts.functions.accept.function", f.Functions.Accept.Function},
		{"facts.functions.allocate.function", f.Functions.Allocate.Function},
		{"facts.functions.release.function", f.Functions.Release.Function},
		{"facts.functions.launch.function", f.Functions.Launch.Function},
		{"facts.functions.fork.function", f.Functions.Fork.Function},
		{"facts.child.exec", f.Child.Exec},
		{"facts.cancel_key.function", f.CancelKey.Function},
		{"facts.cancel_key.variable", f.CancelKey.Variable},
		{"facts.cancel_key.checked_by", f.CancelKey.CheckedBy},
		{"facts.child_list.name", f.ChildList.Name},
		{"facts.child_list.push", f.ChildList.Push},
		{"facts.record.type", f.Record.Type},
		{"facts.record.normal", f.Record.Normal},
		{"facts.forked_log", f.ForkedLog},
		{"facts.exit_name", f.ExitName},
		{"facts.protocol.earliest", f.Protocol.Earliest},
		{"facts.protocol.latest", f.Protocol.Latest},
		{"facts.protocol.negotiate_at", f.Protocol.NegotiateAt},
		{"facts.cancel_key.request.short_log", f.CancelKey.Request.ShortLog},
		{"facts.cancel_key.request.bad_length_log", f.CancelKey.Request.BadLengthLog},
	}
	for _, r := range required {
		if r.value == "" {
			return bad(r.field, "missing")
		}
	}
	calls := map[string]Call{
		"accept": f.Functions.Accept, "allocate": f.Functions.Allocate, "allocate_dead_end": f.Functions.AllocateDeadEnd,
		"assign_slot": f.Functions.AssignSlot, "release": f.Functions.Release, "release_slot": f.Functions.ReleaseSlot,
		"launch": f.Functions.Launch, "fork": f.Functions.Fork, "close_socket": f.Functions.CloseSocket,
	}
	for name, c := range calls {
		if c.Library != "" && c.Library != "libc" {
			return bad("facts.functions."+name+".library", "%q: only libc or nothing (PostgreSQL's own)", c.Library)
		}
		for i, a := range c.Args {
			if a.Name == "" {
				return bad(fmt.Sprintf("facts.functions.%s.args[%d].name", name, i), "missing")
			}
		}
		if c.Function == "" && (c.Library != "" || len(c.Args) > 0) {
			return bad("facts.functions."+name+".function", "missing")
		}
	}
	if len(f.Functions.Run) == 0 {
		return bad("facts.functions.run", "name the child's path to its main loop")
	}
	if err := distinct(bad, "facts.child.steps", f.Child.Steps); err != nil {
		return err
	}
	if f.CancelKey.MadeIn != Postmaster && f.CancelKey.MadeIn != Backend {
		return bad("facts.cancel_key.made_in", "%q: postmaster or backend", f.CancelKey.MadeIn)
	}
	if f.CancelKey.CheckedAgainst != CheckInheritedList && f.CancelKey.CheckedAgainst != CheckSharedMemory {
		return bad("facts.cancel_key.checked_against", "%q: %s or %s", f.CancelKey.CheckedAgainst, CheckInheritedList, CheckSharedMemory)
	}
	if len(f.CancelKey.Widths) == 0 {
		return bad("facts.cancel_key.widths", "give the key's width for at least one protocol")
	}
	var protos []string
	for i, w := range f.CancelKey.Widths {
		field := fmt.Sprintf("facts.cancel_key.widths[%d]", i)
		if !protocolVersion.MatchString(w.Protocol) {
			return bad(field+".protocol", "%q is not a protocol version such as 3.0", w.Protocol)
		}
		if w.Bytes < 1 || w.Bytes > 256 {
			return bad(field+".bytes", "%d: a cancel key has 1 to 256 bytes", w.Bytes)
		}
		protos = append(protos, w.Protocol)
	}
	if err := distinct(bad, "facts.cancel_key.widths", protos); err != nil {
		return err
	}
	if err := f.validateProtocol(bad); err != nil {
		return err
	}
	if f.CancelKey.MadeIn == Backend && f.CancelKey.At == "" {
		return bad("facts.cancel_key.at", "missing: say where the backend makes its key")
	}
	if f.CancelKey.CheckedAgainst == CheckSharedMemory && f.CancelKey.PublishedBy == "" {
		return bad("facts.cancel_key.published_by", "missing: name what puts the key in shared memory")
	}
	if rq := f.CancelKey.Request; rq.MinBytes < 1 || rq.MaxBytes > 256 || rq.MinBytes > rq.MaxBytes {
		return bad("facts.cancel_key.request", "min_bytes %d, max_bytes %d: a cancel key has 1 to 256 bytes", rq.MinBytes, rq.MaxBytes)
	}
	if f.Child.SetsSlot && f.Child.SlotAt == "" {
		return bad("facts.child.slot_at", "missing: say where the child sets its slot")
	}
	for _, ph := range []string{"{pid}", "{socket}"} {
		if !strings.Contains(f.ForkedLog, ph) {
			return bad("facts.forked_log", "%q lacks %s", f.ForkedLog, ph)
		}
	}
	if r, ok := phaseRank(f.ChildList.JoinedIn); !ok || r < 1 || r > MainPhaseCount {
		return bad("facts.child_list.joined_in", "%q is not a phase of BackendStartup", f.ChildList.JoinedIn)
	}
	if err := f.Record.validate(bad); err != nil {
		return err
	}
	if err := f.validatePool(bad); err != nil {
		return err
	}
	if err := f.ClientSocket.validate(bad); err != nil {
		return err
	}
	if err := distinct(bad, "facts.can_accept", f.CanAccept); err != nil {
		return err
	}
	if len(f.CanAccept) == 0 || f.CanAccept[0] != "CAC_OK" {
		return bad("facts.can_accept", "the CAC_state names, in declaration order, starting with CAC_OK")
	}
	return distinct(bad, "facts.symbols.inlined", f.Symbols.Inlined)
}

// validateProtocol checks the protocol range, and that every version in it
// gets a cancel key of some width.
func (f *Facts) validateProtocol(bad badFunc) *ManifestError {
	earliest, ok := ProtocolNumber(f.Protocol.Earliest)
	if !ok {
		return bad("facts.protocol.earliest", "%q is not a protocol version such as 3.0", f.Protocol.Earliest)
	}
	latest, ok := ProtocolNumber(f.Protocol.Latest)
	if !ok {
		return bad("facts.protocol.latest", "%q is not a protocol version such as 3.2", f.Protocol.Latest)
	}
	if earliest > latest {
		return bad("facts.protocol", "earliest %s comes after latest %s", f.Protocol.Earliest, f.Protocol.Latest)
	}
	if f.CancelKey.BytesFor(f.Protocol.Earliest) == 0 {
		return bad("facts.cancel_key.widths", "no width for a client that asks for protocol %s", f.Protocol.Earliest)
	}
	return nil
}

// validatePool checks the pool against the record and the accept states.
func (f *Facts) validatePool(bad badFunc) *ManifestError {
	p := f.Pool
	if p == nil {
		return nil
	}
	types := make([]string, len(f.Record.BkendTypes))
	for i, e := range f.Record.BkendTypes {
		types[i] = e.Name
	}
	switch {
	case !slices.Contains(types, p.BackendType):
		return bad("facts.pool.backend_type", "%q is not one of facts.record.bkend_types", p.BackendType)
	case !slices.Contains(f.CanAccept, p.Empty):
		return bad("facts.pool.empty", "%q is not one of facts.can_accept", p.Empty)
	case p.FirstSlot < 1:
		return bad("facts.pool.first_slot", "%d: slot numbers start at 1 (0 is a dead end's)", p.FirstSlot)
	case p.Size == "" || p.SizeAt == "" || p.EmptyAt == "":
		return bad("facts.pool", "give size, size_at and empty_at")
	case f.ChildList.JoinedIn == StructCreation && (p.PushAt == "" || p.DeadEndPushAt == ""):
		return bad("facts.pool", "give push_at and dead_end_push_at: a child joins %s when its entry is taken", f.ChildList.Name)
	case f.Functions.AllocateDeadEnd.Function == "":
		return bad("facts.functions.allocate_dead_end", "missing: a connection that finds the pool empty gets a dead-end record")
	case f.Record.DeadEnd == "":
		return bad("facts.record.dead_end", "missing: name the bkend_type of a dead-end child")
	}
	return nil
}

func (r *Record) validate(bad badFunc) *ManifestError {
	if len(r.Layouts) == 0 {
		return bad("facts.record.layouts", "give the layout for at least one architecture")
	}
	archs := make([]string, 0, len(r.Layouts))
	for a := range r.Layouts {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	for _, arch := range archs {
		l := r.Layouts[arch]
		field := "facts.record.layouts." + arch
		if l.Size <= 0 {
			return bad(field+".size", "%d: not a size", l.Size)
		}
		var names []string
		used := make([]string, l.Size)
		for i, fl := range l.Fields {
			ff := fmt.Sprintf("%s.fields[%d]", field, i)
			size, ok := FieldTypes[fl.Type]
			switch {
			case fl.Name == "":
				return bad(ff+".name", "missing")
			case !ok:
				return bad(ff+".type", "%q (types: int32, bool, pointer, dlist_node)", fl.Type)
			case fl.Offset < 0 || fl.Offset+size > l.Size:
				return bad(ff+".offset", "%s at %d does not fit in %d bytes", fl.Name, fl.Offset, l.Size)
			}
			for b := fl.Offset; b < fl.Offset+size; b++ {
				if used[b] != "" {
					return bad(ff+".offset", "%s overlaps %s", fl.Name, used[b])
				}
				used[b] = fl.Name
			}
			names = append(names, fl.Name)
		}
		if err := distinct(bad, field+".fields", names); err != nil {
			return err
		}
		for _, need := range []string{"pid", "child_slot", "bkend_type", "elem"} {
			if !slices.Contains(names, need) {
				return bad(field+".fields", "no %s field", need)
			}
		}
	}
	var names []string
	for _, e := range r.BkendTypes {
		names = append(names, e.Name)
	}
	if err := distinct(bad, "facts.record.bkend_types", names); err != nil {
		return err
	}
	if !slices.Contains(names, r.Normal) {
		return bad("facts.record.normal", "%q is not one of bkend_types", r.Normal)
	}
	if r.DeadEnd != "" && (!slices.Contains(names, r.DeadEnd) || r.DeadEnd == r.Normal) {
		return bad("facts.record.dead_end", "%q is not one of bkend_types other than normal", r.DeadEnd)
	}
	return nil
}

func (c *ClientSocket) validate(bad badFunc) *ManifestError {
	if c.Type == "" && len(c.Layouts) == 0 {
		return nil // a driver that needs it says so
	}
	if c.Type == "" {
		return bad("facts.client_socket.type", "missing")
	}
	if len(c.Layouts) == 0 {
		return bad("facts.client_socket.layouts", "give the layout for at least one architecture")
	}
	archs := make([]string, 0, len(c.Layouts))
	for a := range c.Layouts {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	for _, arch := range archs {
		l := c.Layouts[arch]
		field := "facts.client_socket.layouts." + arch
		switch {
		case l.Sock < 0:
			return bad(field+".sock", "%d: not an offset", l.Sock)
		case l.RAddr < 0 || l.RAddr == l.Sock:
			return bad(field+".raddr", "%d: not an offset apart from sock", l.RAddr)
		}
	}
	return nil
}

func (p *StopPlan) validate(bad badFunc) *ManifestError {
	field := "plans." + p.Scenario
	if len(p.Stops) == 0 {
		return bad(field, "no stops")
	}
	keys := ValueKeys()
	var points []string
	last := 0
	for i, s := range p.Stops {
		sf := fmt.Sprintf("%s[%d]", field, i)
		rank, ok := phaseRank(s.Phase)
		switch {
		case !ok:
			return bad(sf+".phase", "unknown phase %q (phases: %s, %s)", s.Phase, strings.Join(PhaseIDs(), ", "), Epilogue)
		case rank < last:
			return bad(sf+".phase", "%s cannot come after the stops before it", s.Phase)
		case s.Phase == Epilogue && i != len(p.Stops)-1:
			return bad(sf+".phase", "the closing check is the last stop")
		case s.Process != Postmaster && s.Process != Backend && s.Process != Client:
			return bad(sf+".process", "unknown process %q (processes: postmaster, backend, client)", s.Process)
		case s.Point == "":
			return bad(sf+".point", "missing")
		case s.At == "":
			return bad(sf+".at", "missing: say where in the code the stop is")
		case p.Scenario != ScenarioForkFailure && s.Phase == ForkFailure:
			return bad(sf+".phase", "the %s scenario has no fork failure", p.Scenario)
		}
		last = rank
		points = append(points, s.Point)
		for j, k := range s.Values {
			if !slices.Contains(keys, k) {
				return bad(fmt.Sprintf("%s.values[%d]", sf, j), "unknown value %q (values: %s)", k, strings.Join(keys, ", "))
			}
		}
		if err := distinct(bad, sf+".values", s.Values); err != nil {
			return err
		}
		if err := s.validateExpect(bad, sf+".expect"); err != nil {
			return err
		}
	}
	if p.Scenario == ScenarioForkFailure && !slices.ContainsFunc(p.Stops, func(s PlannedStop) bool { return s.Phase == ForkFailure }) {
		return bad(field, "the fork-failure scenario has no fork-failure stop")
	}
	if p.Scenario == ScenarioTooManyClients && !slices.ContainsFunc(p.Stops, func(s PlannedStop) bool { return s.Expect["dead_end"] == true }) {
		return bad(field, "the too-many-clients scenario expects dead_end: true at no stop")
	}
	return distinct(bad, field+" points", points)
}

// distinct fails when list holds a name twice or an empty name.
func distinct(bad badFunc, field string, list []string) *ManifestError {
	for i, s := range list {
		if s == "" {
			return bad(fmt.Sprintf("%s[%d]", field, i), "empty")
		}
		if slices.Contains(list[:i], s) {
			return bad(field, "%q is listed twice", s)
		}
	}
	return nil
}

// validateExpect checks s's expected values: each one is a value the stop
// reports (one of its Values), and a bool, an integer or a string.
func (s PlannedStop) validateExpect(bad badFunc, field string) *ManifestError {
	keys := make([]string, 0, len(s.Expect))
	for k := range s.Expect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(s.Values, k) {
			return bad(field+"."+k, "not one of the stop's values (%s)", strings.Join(s.Values, ", "))
		}
		switch s.Expect[k].(type) {
		case bool, int, string:
		default:
			return bad(field+"."+k, "%v is not a bool, an integer or a string", s.Expect[k])
		}
	}
	return nil
}
