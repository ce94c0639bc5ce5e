package reenact

import (
	_ "embed"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// messagesText is the re-enactment's part of the message catalog, waiting
// to move into internal/catalog: one message a line, tab-separated key,
// English and Korean text, with {name} placeholders. A fact's key names
// its label and the key with ".value" appended its text; a check's key its
// name and the key with ".detail" appended its detail.
//
//go:embed messages.txt
var messagesText string

// message is one entry of messagesText.
type message struct{ en, ko string }

// messages holds messagesText by key.
var messages = parseMessages(messagesText)

// parseMessages reads messages.txt: lines of key, English, Korean,
// separated by tabs; a line starting with # and a blank line are skipped.
// A malformed line is kept under its key with empty texts, which the
// tests report.
func parseMessages(text string) map[string]message {
	out := map[string]message{}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			out[parts[0]] = message{}
			continue
		}
		out[parts[0]] = message{en: parts[1], ko: parts[2]}
	}
	return out
}

// english returns the English text of key with m's arguments put in.
func english(key string, args map[string]string) string {
	text := messages[key].en
	for name, v := range args {
		text = strings.ReplaceAll(text, "{"+name+"}", v)
	}
	return text
}

// fact returns the catalog fact key with its arguments (name, value
// pairs, as walkthrough.F takes them). Name and Value are filled in
// English, for the renderers that do not read the catalog yet; a renderer
// that does says them in the reader's language.
func fact(key string, pairs ...any) walkthrough.Fact {
	f := walkthrough.F(key, pairs...)
	f.Name = english(key, f.Args)
	f.Value = english(key+".value", f.Args)
	return f
}

// check returns the catalog check key, held when ok, with Name and Detail
// filled in English as fact does.
func check(ok bool, key string, pairs ...any) walkthrough.Check {
	c := walkthrough.C(ok, key, pairs...)
	c.Name = english(key, c.Args)
	c.Detail = english(key+".detail", c.Args)
	return c
}

// factKey returns the value of the fact with catalog key key in facts.
func factKey(facts []walkthrough.Fact, key string) (walkthrough.Fact, bool) {
	for _, f := range facts {
		if f.Key == key {
			return f, true
		}
	}
	return walkthrough.Fact{}, false
}
