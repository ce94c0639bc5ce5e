package live

import (
	"sort"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The driver's words are catalog messages: stable keys ("fact.live.*",
// "check.live.*", "say.live.*") with arguments, whose English and Korean
// texts live in the message catalog (internal/catalog, with the
// placeholders each text names). A test checks that every key the driver
// uses is listed there, with the same placeholders.

// tell says the message key with its arguments (name, value pairs) to the
// user: through o.Teller, which the CLI says in the reader's language, or,
// for a caller that has none, as one line on o.Notify made of the key and
// its arguments.
func tell(o walkthrough.DriverOptions, key string, pairs ...any) {
	m := walkthrough.M(key, pairs...)
	if o.Teller != nil {
		o.Tell(m)
		return
	}
	o.Say(line(m))
}

// line writes m as "key: name=value, ...", its arguments by name.
func line(m walkthrough.Msg) string {
	if len(m.Args) == 0 {
		return m.Key
	}
	names := make([]string, 0, len(m.Args))
	for n := range m.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + m.Args[n]
	}
	return m.Key + ": " + strings.Join(parts, ", ")
}
