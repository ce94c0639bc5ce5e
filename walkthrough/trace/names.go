package trace

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// cacNames are the values of PostgreSQL's CAC_state enum, in the order both
// 16.4 (libpq-be.h) and 17.1 (tcop/backend_startup.h) declare them.
var cacNames = []string{"CAC_OK", "CAC_STARTUP", "CAC_SHUTDOWN", "CAC_RECOVERY", "CAC_NOTCONSISTENT", "CAC_TOOMANY"}

// cacName returns the enum name of a canAcceptConnections result.
func cacName(v int) string {
	if v >= 0 && v < len(cacNames) {
		return cacNames[v]
	}
	return fmt.Sprintf("CAC_state(%d)", v)
}

// The BACKEND_TYPE_* flags of postmaster.c (the same in 16.4 and 17.1).
const (
	backendTypeNormal   = 0x1
	backendTypeAutovac  = 0x2
	backendTypeWalsnd   = 0x4
	backendTypeBgworker = 0x8
)

// bkendTypeName returns the name of a Backend.bkend_type value.
func bkendTypeName(v int) string {
	switch v {
	case backendTypeNormal:
		return "BACKEND_TYPE_NORMAL"
	case backendTypeAutovac:
		return "BACKEND_TYPE_AUTOVAC"
	case backendTypeWalsnd:
		return "BACKEND_TYPE_WALSND"
	case backendTypeBgworker:
		return "BACKEND_TYPE_BGWORKER"
	}
	return fmt.Sprintf("bkend_type(%d)", v)
}

// backendLayout says where the fields of postmaster.c's Backend record lie,
// in bytes from its start. The record is a plain C struct, so the offsets
// follow from the field types and the ABI; the driver still checks them at
// run time against values it observed elsewhere (see checkLayout).
type backendLayout struct {
	PID, CancelKey, ChildSlot, BkendType, DeadEnd, BgworkerNotify, Elem, Size int
}

// amd64BackendLayout is the layout on x86-64 in both 16.4 and 17.1: four
// 32-bit fields, two bools, padding, then the dlist_node (prev, next).
var amd64BackendLayout = backendLayout{PID: 0, CancelKey: 4, ChildSlot: 8, BkendType: 12, DeadEnd: 16, BgworkerNotify: 17, Elem: 24, Size: 40}

// String describes the layout the way the notes name the fields.
func (l backendLayout) String() string {
	return fmt.Sprintf("pid@%d cancel_key@%d child_slot@%d bkend_type@%d dead_end@%d bgworker_notify@%d elem@%d, %d bytes",
		l.PID, l.CancelKey, l.ChildSlot, l.BkendType, l.DeadEnd, l.BgworkerNotify, l.Elem, l.Size)
}

// decode reads a Backend record from raw, which holds at least l.Size bytes
// of the postmaster's memory in little-endian order.
func (l backendLayout) decode(raw []byte) (walkthrough.BackendNode, error) {
	if len(raw) < l.Size {
		return walkthrough.BackendNode{}, fmt.Errorf("backend record: have %d bytes, need %d", len(raw), l.Size)
	}
	i32 := func(off int) int32 { return int32(binary.LittleEndian.Uint32(raw[off:])) }
	return walkthrough.BackendNode{
		PID:            int(i32(l.PID)),
		CancelKey:      i32(l.CancelKey),
		ChildSlot:      int(i32(l.ChildSlot)),
		BkendType:      bkendTypeName(int(i32(l.BkendType))),
		DeadEnd:        raw[l.DeadEnd] != 0,
		BgworkerNotify: raw[l.BgworkerNotify] != 0,
	}, nil
}

// expectedNode holds what the driver saw of a connection before the
// postmaster registered it: the fork's return value, MyCancelKey, and the
// child slot (nil where not observed).
type expectedNode struct {
	PID       int
	CancelKey *int32
	ChildSlot *int
}

// checkLayout compares a decoded record with what was observed before and
// returns one line per mismatch; an empty result means the layout holds.
func checkLayout(n walkthrough.BackendNode, want expectedNode) []string {
	var bad []string
	if n.PID != want.PID {
		bad = append(bad, fmt.Sprintf("pid field holds %d, fork returned %d", n.PID, want.PID))
	}
	if want.CancelKey != nil && n.CancelKey != *want.CancelKey {
		bad = append(bad, fmt.Sprintf("cancel_key field holds %d, MyCancelKey was %d", n.CancelKey, *want.CancelKey))
	}
	if want.ChildSlot != nil && n.ChildSlot != *want.ChildSlot {
		bad = append(bad, fmt.Sprintf("child_slot field holds %d, AssignPostmasterChildSlot returned %d", n.ChildSlot, *want.ChildSlot))
	}
	if n.BkendType != bkendTypeName(backendTypeNormal) {
		bad = append(bad, fmt.Sprintf("bkend_type field holds %s, BackendStartup sets BACKEND_TYPE_NORMAL", n.BkendType))
	}
	return bad
}

// check builds a walkthrough.Check that holds when every value in vals is
// equal; the detail lists each name with its value.
func check(name string, names []string, vals []string) walkthrough.Check {
	ok := len(vals) > 0
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = names[i] + "=" + v
		if v != vals[0] {
			ok = false
		}
	}
	return walkthrough.Check{Name: name, OK: ok, Detail: strings.Join(parts, ", ")}
}
