package walkthrough

import "fmt"

// Msg is something pgwalk says, as data: a stable key of the message
// catalog and the values to put into its text. Drivers and the engine say
// Msgs, never sentences; the renderer says them in the reader's language
// through the one message catalog (internal/catalog), where every key has
// an English and a Korean text with the same {name} placeholders.
// PostgreSQL's own identifiers, log lines and values travel in Args, as
// they are.
type Msg struct {
	// Key names the message in the catalog: "fact.which_path".
	Key string `json:"key"`
	// Args are the values its text names, by placeholder name.
	Args map[string]string `json:"args,omitempty"`
}

// M returns the Msg key with its arguments given as name, value pairs:
// M("fact.client_socket_open", "fd", 12, "at", "postmaster.c:1788"). A
// value is written with fmt.Sprint; an odd last name gets an empty value.
func M(key string, pairs ...any) Msg {
	m := Msg{Key: key}
	for i := 0; i < len(pairs); i += 2 {
		if m.Args == nil {
			m.Args = make(map[string]string, len(pairs)/2)
		}
		name := fmt.Sprint(pairs[i])
		value := ""
		if i+1 < len(pairs) {
			value = fmt.Sprint(pairs[i+1])
		}
		m.Args[name] = value
	}
	return m
}

// F returns the Fact that the catalog message key says, with args as in M.
func F(key string, pairs ...any) Fact {
	m := M(key, pairs...)
	return Fact{Key: m.Key, Args: m.Args}
}

// C returns the Check that the catalog message key says, held when ok.
func C(ok bool, key string, pairs ...any) Check {
	m := M(key, pairs...)
	return Check{Key: m.Key, Args: m.Args, OK: ok}
}

// Msg returns the catalog message of f (its Key and Args).
func (f Fact) Msg() Msg { return Msg{Key: f.Key, Args: f.Args} }

// Msg returns the catalog message of c (its Key and Args).
func (c Check) Msg() Msg { return Msg{Key: c.Key, Args: c.Args} }
