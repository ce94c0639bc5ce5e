package live

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// recordLayout says where the fields of the postmaster's record of a child
// lie (Backend in 16.4 and 17.1, PMChild in 18.4), from the manifest. The
// driver checks it at run time against values it observed elsewhere.
type recordLayout struct {
	// typ is the C type: "Backend".
	typ  string
	size int
	// Offsets; -1 for a field the record lacks.
	pid, key, slot, bkendType, deadEnd, notify, elem int
	// names names the bkend_type values.
	names walkthrough.Record
	// normal is a client backend's bkend_type; deadEndType a dead-end
	// child's, where that is a type of its own (hasDeadEndType).
	normal         int64
	deadEndType    int64
	hasDeadEndType bool
	fields         []walkthrough.Field
}

func newRecordLayout(r walkthrough.Record, l walkthrough.RecordLayout) (recordLayout, error) {
	rl := recordLayout{typ: r.Type, size: l.Size, names: r, fields: l.Fields}
	off := func(name, typ string, required bool) (int, error) {
		f, ok := l.Field(name)
		switch {
		case !ok && required:
			return -1, fmt.Errorf("its %s has no %s field", r.Type, name)
		case !ok:
			return -1, nil
		case f.Type != typ:
			return -1, fmt.Errorf("its %s.%s is a %s, not a %s", r.Type, name, f.Type, typ)
		}
		return f.Offset, nil
	}
	var err error
	for _, f := range []struct {
		dst      *int
		name     string
		typ      string
		required bool
	}{
		{&rl.pid, "pid", "int32", true}, {&rl.key, "cancel_key", "int32", false}, {&rl.slot, "child_slot", "int32", true},
		{&rl.bkendType, "bkend_type", "int32", true}, {&rl.deadEnd, "dead_end", "bool", false},
		{&rl.notify, "bgworker_notify", "bool", false}, {&rl.elem, "elem", "dlist_node", true},
	} {
		if *f.dst, err = off(f.name, f.typ, f.required); err != nil {
			return rl, err
		}
	}
	rl.normal, _ = r.Value(r.Normal)
	if r.DeadEnd != "" {
		rl.deadEndType, rl.hasDeadEndType = r.Value(r.DeadEnd)
	}
	return rl, nil
}

// String describes the layout the way the notes name the fields:
// "pid@0 cancel_key@4 ... elem@24, 40 bytes".
func (l recordLayout) String() string {
	parts := make([]string, len(l.fields))
	for i, f := range l.fields {
		parts[i] = fmt.Sprintf("%s@%d", f.Name, f.Offset)
	}
	return fmt.Sprintf("%s, %d bytes", strings.Join(parts, " "), l.size)
}

// decode reads a record from raw, which holds at least l.size bytes of the
// postmaster's memory in little-endian order.
func (l recordLayout) decode(raw []byte) (walkthrough.BackendNode, error) {
	if len(raw) < l.size {
		return walkthrough.BackendNode{}, fmt.Errorf("%s record: have %d bytes, need %d", l.typ, len(raw), l.size)
	}
	i32 := func(off int) int32 { return int32(binary.LittleEndian.Uint32(raw[off:])) }
	typ := int64(i32(l.bkendType))
	n := walkthrough.BackendNode{
		PID:       int(i32(l.pid)),
		ChildSlot: int(i32(l.slot)),
		BkendType: l.names.TypeName(typ),
		NoKey:     l.key < 0,
	}
	if l.key >= 0 {
		n.CancelKey = i32(l.key)
	}
	if l.deadEnd >= 0 {
		n.DeadEnd = raw[l.deadEnd] != 0
	} else if l.hasDeadEndType {
		n.DeadEnd = typ == l.deadEndType
	}
	if l.notify >= 0 {
		n.BgworkerNotify = raw[l.notify] != 0
	}
	return n, nil
}

// isNormal reports whether a decoded record is a client backend's.
func (l recordLayout) isNormal(n walkthrough.BackendNode) bool {
	return n.BkendType == l.names.Normal
}

// keyHex returns the 4-byte key k in hex, as BackendKeyData carries it.
func keyHex(k int32) string { return walkthrough.KeyHex(k) }
