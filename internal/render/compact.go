package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// scalar is one single-valued observation, formatted.
type scalar struct{ name, value string }

// scalars returns the single-valued observations of v, in a fixed order.
func scalars(v walkthrough.Values) []scalar {
	var out []scalar
	add := func(name string, value any) { out = append(out, scalar{name, fmt.Sprint(value)}) }
	if v.PostmasterPID != 0 {
		add("postmaster_pid", v.PostmasterPID)
	}
	if v.ChildPID != 0 {
		add("child_pid", v.ChildPID)
	}
	if v.ForkReturn != nil {
		add("fork_return", *v.ForkReturn)
	}
	if v.CancelKey != nil {
		add("cancel_key", fmt.Sprintf("%d (0x%08x)", *v.CancelKey, uint32(*v.CancelKey)))
	} else if v.CancelKeyHex != "" {
		add("cancel_key_hex", v.CancelKeyHex)
	}
	if v.CanAccept != "" {
		add("can_accept", v.CanAccept)
	}
	if v.DeadEnd != nil {
		add("dead_end", *v.DeadEnd)
	}
	if v.ChildSlot != nil {
		add("child_slot", *v.ChildSlot)
	}
	if k := v.ClientBackendKey; k != nil {
		if len(k.SecretKeyHex) > 8 {
			add("client_backend_key", fmt.Sprintf("pid %d, key %s", k.PID, k.SecretKeyHex))
		} else {
			add("client_backend_key", fmt.Sprintf("pid %d, key %d", k.PID, k.SecretKey))
		}
	}
	if r := v.CancelRequest; r != nil {
		add("cancel_request", fmt.Sprintf("pid %d, matched %t, checked_by_pid %d", r.PID, r.Matched, r.CheckedByPID))
	}
	if e := v.Errno; e != nil {
		add("errno", fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Message))
	}
	return out
}

// nodeLine describes a Backend record on one line.
func nodeLine(n walkthrough.BackendNode) string {
	return fmt.Sprintf("pid %d%s · child_slot %d · bkend_type %s · dead_end %t",
		n.PID, nodeKey(n), n.ChildSlot, cell(n.BkendType), n.DeadEnd)
}

// nodeKey is the record's cancel_key part, "" for a record with no key
// field (18's PMChild).
func nodeKey(n walkthrough.BackendNode) string {
	if n.NoKey {
		return ""
	}
	return fmt.Sprintf(" · cancel_key %d", n.CancelKey)
}

// CompactValuesMarkdown returns the short "What happened" of a stop: only
// what is new since the earlier stops of its connection (a value seen
// with another value, or for the first time; the fds the child closed; a
// changed Backend record or BackendList; new log lines), and every check.
// It is meant to fit on the first screen with the heading; the stop's
// details list every value.
func CompactValuesMarkdown(ev walkthrough.Event, earlier []walkthrough.Event, ascii bool, lang string) string {
	known := map[string]string{}
	var lastBackend *walkthrough.BackendNode
	var lastList []walkthrough.BackendNode
	var seenLog []string
	for _, e := range earlier {
		for _, sc := range scalars(e.Values) {
			known[sc.name] = sc.value
		}
		if e.Values.Backend != nil {
			lastBackend = e.Values.Backend
		}
		if e.Values.BackendList != nil {
			lastList = e.Values.BackendList
		}
		seenLog = append(seenLog, e.Values.Log...)
	}
	v := ev.Values
	var b strings.Builder
	for _, sc := range scalars(v) {
		if old, ok := known[sc.name]; !ok || old != sc.value {
			fmt.Fprintf(&b, "- `%s` = %s\n", sc.name, sc.value)
		}
	}
	if v.Backend != nil && (lastBackend == nil || *lastBackend != *v.Backend) {
		fmt.Fprintf(&b, "- `backend`: %s\n", nodeLine(*v.Backend))
	}
	if len(v.ClosedFDs) > 0 {
		fds := make([]string, len(v.ClosedFDs))
		for i, f := range v.ClosedFDs {
			fds[i] = fmt.Sprintf("fd %d %s", f.Num, fdKind(lang, f.Kind))
		}
		fmt.Fprintf(&b, "- `closed_fds`: %s\n", strings.Join(fds, ", "))
	}
	if v.BackendList != nil && !slices.Equal(lastList, v.BackendList) {
		if len(v.BackendList) == 0 {
			fmt.Fprintf(&b, "- `backend_list`: (%s)\n", catalog.S(lang, "render.empty"))
		}
		for _, n := range v.BackendList {
			fmt.Fprintf(&b, "- `backend_list`: %s\n", nodeLine(n))
		}
	}
	for _, l := range v.Log {
		if !slices.Contains(seenLog, l) {
			fmt.Fprintf(&b, "- %s: %s\n", catalog.S(lang, "render.log"), codeSpan(l))
		}
	}
	for _, c := range v.Checks {
		b.WriteString(checkLine(c, ascii, lang))
	}
	if b.Len() == 0 {
		switch {
		case ev.Driver == "narrate":
			b.WriteString("*" + catalog.S(lang, "render.narration") + "*\n")
		case valuesBody(ev, ascii, lang) == "":
			b.WriteString("*" + catalog.S(lang, "render.nothing") + "*\n")
		default:
			b.WriteString("*" + catalog.S(lang, "render.nothing_new") + "*\n")
		}
	}
	return fmt.Sprintf("## %s\n\n%s\n", catalog.S(lang, "render.what_happened"), b.String())
}

// codeSpan returns s as a Markdown code span, or as it is when it holds a
// backtick.
func codeSpan(s string) string {
	if strings.Contains(s, "`") {
		return s
	}
	return "`" + s + "`"
}
