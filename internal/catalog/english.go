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
// What is not English, in any language's text:
//
//   - identifiers (snake_case, CamelCase, ALL_CAPS, words with digits, a
//     name followed by "("), paths, addresses, code spans and fenced code
//     blocks (Markdown's ``` lines and what is between them), option names
//     (--lang), key=value pairs, and the words of Vocabulary, which every
//     language keeps as they are;
//   - a quotation: text in double quotes ("Operation not permitted", a
//     message PostgreSQL or the system wrote, a string a command prints),
//     and a shell word in single quotes ('max processes');
//   - a shell command: a command name (ShellCommands) followed by an
//     option, a path, a pipe or a quotation within its next two words, up
//     to the first word written in another script or the first English
//     function word ("grep State /proc/PID/status를", "kill -0 4242 &&
//     echo ..."), so that a sentence written after a command still shows;
//   - an English original in parentheses right after the term it
//     translates ("취소 키 (cancel key)", "클라이언트 소켓 (Port,
//     ClientSocket)"): up to four words per item, items separated by
//     commas or slashes, no function word, nothing in another script.
//
// A sentence is English all the same: "(the child closes it)" after a
// Korean word has function words, and is found.
func English(text string) []string {
	text = ansiSeq.ReplaceAllString(text, "")
	var out []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, englishIn(line)...)
		}
	}
	return out
}

// Vocabulary are the words pgwalk's texts keep in every language: the
// names of its drivers, processes and values, and PostgreSQL's and the
// system's names for things, among them PostgreSQL's C names that are
// English words (Port, the struct of a client connection in 16.4).
var Vocabulary = []string{
	"pgwalk", "reenact", "live", "narrate",
	"postmaster", "postgres", "backend", "client", "pid", "fd", "fds",
	"psql", "ptrace", "epoll", "fork", "exec", "int3",
	"true", "false", "ok",
	"PostgreSQL", "Backend", "Port", "Linux", "Unix", "Windows", "Go",
	"Enter", "Ctrl", "PgDn", "PgUp", "Home", "End", "Right", "Left", "Up", "Down",
}

// ShellCommands are the commands a text may tell its reader to run; with
// its arguments, such a command is not prose (see English).
var ShellCommands = []string{
	"pgwalk", "psql", "pg_ctl", "postgres", "initdb",
	"ls", "ss", "ps", "kill", "grep", "cat", "echo", "ulimit", "readlink",
	"lsof", "strace", "gdb", "pgrep", "head", "tail", "sed", "awk", "wc",
	"sort", "find", "stat", "watch", "sudo", "env", "id",
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
	// quoted are code spans and quotations in double quotes.
	quoted = regexp.MustCompile("`[^`]*`" + `|"[^"]*"|“[^”]*”`)
	// notProse are the other parts of a line that are never prose:
	// addresses, paths, options, key=value pairs, bracketed numbers.
	notProse = regexp.MustCompile(`https?://\S+|\S*/\S*|--?[a-z][a-z0-9-]*|\S+=\S*|\[[0-9]+\]`)
	// shellQuote is a word or words in single quotes, as a shell command
	// has them: a quote that opens after a blank or "(" and closes before
	// a blank, a closing punctuation mark or the end (not an apostrophe:
	// "pgwalk's").
	shellQuote = regexp.MustCompile(`(^|[\s(=])'[^'\n]*'($|[\s),.;:]|\p{Hangul})`)
	// gloss is an English original in parentheses right after a word
	// written in Hangul.
	gloss   = regexp.MustCompile(`(\p{Hangul})(\s?)\(([^()]*)\)`)
	wordish = regexp.MustCompile(`^[A-Za-z][a-z]*(['’][a-z]+)?$`)
)

// englishIn returns the English in one line.
func englishIn(line string) []string {
	line = quoted.ReplaceAllString(line, " ¶ ")
	for {
		// Again, for quotes one blank apart: a match takes its blank.
		next := shellQuote.ReplaceAllString(line, "$1 ¶ $2")
		if next == line {
			break
		}
		line = next
	}
	line = gloss.ReplaceAllStringFunc(line, func(m string) string {
		sub := gloss.FindStringSubmatch(m)
		if !isGloss(sub[3]) {
			return m
		}
		return sub[1] + sub[2] + " ¶ "
	})
	clean := notProse.ReplaceAllString(withoutCommands(line), " ¶ ")
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

// isGloss reports whether s, the inside of a parenthesis after a term, is
// the term's English original: items of at most four words, separated by
// commas or slashes, with no function word and nothing in another script.
func isGloss(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '/' }) {
		words := strings.Fields(item)
		if len(words) == 0 || len(words) > 4 {
			return false
		}
		for _, w := range words {
			if hasOtherScript(w) || slices.Contains(functionWords, strings.ToLower(trimPunct(w))) {
				return false
			}
		}
	}
	return true
}

// withoutCommands returns line with each shell command in it replaced by
// "¶" (see English).
func withoutCommands(line string) string {
	toks := strings.Fields(line)
	var out []string
	for i := 0; i < len(toks); i++ {
		if !slices.Contains(ShellCommands, trimPunct(toks[i])) || !shellArgAhead(toks[i+1:]) {
			out = append(out, toks[i])
			continue
		}
		j := i + 1
		for j < len(toks) && !hasOtherScript(toks[j]) && !slices.Contains(functionWords, strings.ToLower(trimPunct(toks[j]))) {
			j++
		}
		out = append(out, "¶")
		i = j - 1
	}
	return strings.Join(out, " ")
}

// shellArgAhead reports whether one of the first two of toks is what only
// a command line has: an option, a path, a pipe or a redirection, an
// assignment, or a quotation (already "¶").
func shellArgAhead(toks []string) bool {
	for _, t := range toks[:min(2, len(toks))] {
		switch {
		case t == "¶", t == "|", t == "&&", t == "||", t == ">", t == "<",
			strings.HasPrefix(t, "-"), strings.Contains(t, "/"), strings.Contains(t, "="):
			return true
		}
	}
	return false
}

// hasOtherScript reports whether s has a letter that is not Latin.
func hasOtherScript(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return true
		}
	}
	return false
}

// trimPunct returns s without the punctuation and symbols at its ends.
func trimPunct(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSymbol(r)
	})
}

// englishWord returns tok without its punctuation, and whether it is an
// English word ("" and true for punctuation, which neither makes nor
// breaks a run). Identifiers, numbers, vocabulary and words written in
// another script are not English words.
func englishWord(tok string) (string, bool) {
	w := trimPunct(tok)
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
