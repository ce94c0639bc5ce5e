package catalog

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// English finds what reads as English in text that should be in another
// language: it returns each run of two or more English words, and each
// English function word ("the", "of") or capitalised English word that
// stands alone, with a little of the text around it. It is meant for
// tests, on pgwalk's own text with the notes, the source lines and
// PostgreSQL's log lines taken out.
//
// What is not English: identifiers (snake_case, CamelCase, ALL_CAPS, words
// with digits, a name followed by "("), paths, addresses, code spans,
// option names (--lang), key=value pairs, and the words of Vocabulary,
// which every language keeps as they are.
func English(text string) []string {
	text = ansiSeq.ReplaceAllString(text, "")
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, englishIn(line)...)
	}
	return out
}

// Vocabulary are the words pgwalk's texts keep in every language: the
// names of its drivers, processes and values, and PostgreSQL's and the
// system's names for things.
var Vocabulary = []string{
	"pgwalk", "reenact", "live", "narrate",
	"postmaster", "postgres", "backend", "client", "pid", "fd", "fds",
	"psql", "ptrace", "epoll", "fork", "exec", "int3",
	"true", "false", "ok",
	"PostgreSQL", "Backend", "Linux", "Unix", "Windows", "Go",
	"Enter", "Ctrl", "PgDn", "PgUp", "Home", "End", "Right", "Left", "Up", "Down",
}

// functionWords are English words that betray an English sentence even
// alone.
var functionWords = []string{
	"the", "a", "an", "of", "to", "in", "is", "are", "was", "were", "be", "been",
	"and", "or", "not", "no", "with", "for", "on", "at", "by", "from", "this",
	"that", "it", "its", "has", "have", "had", "yet", "as", "into", "than",
	"then", "when", "which", "who", "what", "there", "here", "only", "all",
}

var (
	ansiSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	// notProse are the parts of a line that are never prose: code spans,
	// addresses, paths, options, key=value pairs, bracketed numbers.
	notProse = regexp.MustCompile("`[^`]*`" + `|https?://\S+|\S*/\S*|--?[a-z][a-z0-9-]*|\S+=\S*|\[[0-9]+\]`)
	wordish  = regexp.MustCompile(`^[A-Za-z][a-z]*(['’][a-z]+)?$`)
)

// englishIn returns the English in one line.
func englishIn(line string) []string {
	clean := notProse.ReplaceAllString(line, " ¶ ")
	toks := strings.FieldsFunc(clean, func(r rune) bool {
		return unicode.IsSpace(r)
	})
	var out []string
	var run []string
	end := func() {
		switch {
		case len(run) >= 2:
			out = append(out, strings.Join(run, " "))
		case len(run) == 1:
			w := run[0]
			if slices.Contains(functionWords, strings.ToLower(w)) ||
				(unicode.IsUpper(rune(w[0])) && len(w) > 1 && !slices.Contains(Vocabulary, w)) {
				out = append(out, w)
			}
		}
		run = nil
	}
	for _, tok := range toks {
		w, isWord := englishWord(tok)
		if !isWord {
			end()
			continue
		}
		if w == "" {
			continue // punctuation alone: "·", "—"
		}
		run = append(run, w)
	}
	end()
	return out
}

// englishWord returns tok without its punctuation, and whether it is an
// English word ("" and true for punctuation, which neither makes nor
// breaks a run). Identifiers, numbers, vocabulary and words written in
// another script are not English words.
func englishWord(tok string) (string, bool) {
	w := strings.TrimFunc(tok, func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSymbol(r)
	})
	if w == "" {
		return "", tok != "¶"
	}
	if strings.HasSuffix(w, "(") || strings.Contains(tok, "(") && strings.HasSuffix(tok, ")") && strings.Index(tok, "(") > 0 {
		return "", false // a call: f(x)
	}
	if !wordish.MatchString(w) {
		return "", false // an identifier, a number, another script
	}
	if slices.Contains(Vocabulary, w) || slices.Contains(Vocabulary, strings.ToLower(w)) {
		return "", false
	}
	if len(w) == 1 && w != "a" && w != "A" {
		return "", false // a key name: q, b, n
	}
	return w, true
}
