package annotations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// Study material goes with each note: two or three questions and one
// exercise ("try this") that uses the values of the run. It lives at
// study/<lang>/<version>/<phase>.yaml:
//
//	phase: child
//	version: "16.4"
//	terms: [close-postmaster-ports, death-pipe]
//	questions:
//	  - Why does the child close the write end of the death pipe?
//	  - ...
//	try: |
//	  While pgwalk is paused here, list the child's descriptors:
//	  `ls -l /proc/{child_pid}/fd`
//	instead: |
//	  The same without the run's values: ...
//
// The exercise may name values of the stop as {key} or {key.field}, with
// the JSON keys of walkthrough.Values. pgwalk run fills them in from the
// stop's values; when one of them was not observed, it shows instead,
// which says what to run without them. No placeholder is ever shown
// unfilled in a run.

// Study is the study material of one phase of one release in one language.
type Study struct {
	Phase   walkthrough.PhaseID `yaml:"phase"`
	Version string              `yaml:"version"`
	// Terms are ids of glossary terms the phase relies on.
	Terms []string `yaml:"terms"`
	// Questions are Markdown, one question each.
	Questions []string `yaml:"questions"`
	// Try is the exercise, Markdown with placeholders.
	Try string `yaml:"try"`
	// Instead is the exercise for when a value of Try is missing: no
	// placeholders.
	Instead string `yaml:"instead"`
	// Lang is the language, from the file's directory.
	Lang string `yaml:"-"`
	// Path is the file it was read from.
	Path string `yaml:"-"`
}

// StudySet is a loaded collection of study files.
type StudySet struct {
	m map[key]*Study
}

// DefaultStudy returns the study material embedded in pgwalk.
func DefaultStudy() (*StudySet, error) { return embeddedStudy() }

var embeddedStudy = sync.OnceValues(func() (*StudySet, error) {
	sub, err := fs.Sub(embedded, "study")
	if err != nil {
		return nil, err
	}
	return LoadStudy(sub)
})

// placeholderRE matches a placeholder: {child_pid}, {errno.name}.
var placeholderRE = regexp.MustCompile(`\{([a-z_]+(?:\.[a-z_]+)*)\}`)

// Placeholders returns the placeholders of text, in order, each once.
func Placeholders(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// LoadStudy reads every study file below fsys, laid out as
// <lang>/<version>/<phase>.yaml. It rejects a file with unknown fields, an
// unknown phase, a version that differs from its directory, fewer than two
// or more than three questions, no exercise, an alternative that has
// placeholders, or a placeholder that names no value (PlaceholderPath).
func LoadStudy(fsys fs.FS) (*StudySet, error) {
	s := &StudySet{m: map[key]*Study{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		parts := strings.Split(p, "/")
		if len(parts) != 3 {
			return &NoteError{File: p, Msg: "a study file must live at <lang>/<version>/<phase>.yaml"}
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		st, err := parseStudy(p, data)
		if err != nil {
			return err
		}
		st.Lang = parts[0]
		if st.Version != parts[1] {
			return &NoteError{File: p, Field: "version", Msg: fmt.Sprintf("%q does not match the directory %q", st.Version, parts[1])}
		}
		if string(st.Phase)+".yaml" != parts[2] {
			return &NoteError{File: p, Field: "phase", Msg: fmt.Sprintf("%q does not match the file name", st.Phase)}
		}
		s.m[key{st.Lang, st.Version, st.Phase}] = st
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func parseStudy(name string, data []byte) (*Study, error) {
	var st Study
	if err := strictYAML(data, &st); err != nil {
		return nil, &NoteError{File: name, Msg: err.Error()}
	}
	st.Path = name
	if p, err := walkthrough.LookupPhase(string(st.Phase)); err != nil || p.ID != st.Phase || st.Phase == walkthrough.Epilogue {
		return nil, &NoteError{File: name, Field: "phase", Msg: fmt.Sprintf("unknown phase %q (phases: %s)", st.Phase, strings.Join(walkthrough.PhaseIDs(), ", "))}
	}
	if !releaseNameRE.MatchString(st.Version) {
		return nil, &NoteError{File: name, Field: "version", Msg: fmt.Sprintf("%q is not a release number such as 17.1", st.Version)}
	}
	if n := len(st.Questions); n < 2 || n > 3 {
		return nil, &NoteError{File: name, Field: "questions", Msg: fmt.Sprintf("%d questions: give two or three", n)}
	}
	for i, q := range st.Questions {
		if strings.TrimSpace(q) == "" {
			return nil, &NoteError{File: name, Field: fmt.Sprintf("questions[%d]", i), Msg: "empty"}
		}
	}
	st.Try, st.Instead = Unwrap(st.Try), Unwrap(st.Instead)
	if strings.TrimSpace(st.Try) == "" {
		return nil, &NoteError{File: name, Field: "try", Msg: "missing"}
	}
	if strings.TrimSpace(st.Instead) == "" {
		return nil, &NoteError{File: name, Field: "instead", Msg: "missing: say what to run when the run's values are not there"}
	}
	if ph := Placeholders(st.Instead); len(ph) > 0 {
		return nil, &NoteError{File: name, Field: "instead", Msg: fmt.Sprintf("has the placeholder {%s}: it is shown when values are missing", ph[0])}
	}
	for _, ph := range Placeholders(st.Try) {
		if err := PlaceholderPath(ph); err != nil {
			return nil, &NoteError{File: name, Field: "try", Msg: err.Error()}
		}
	}
	for i, id := range st.Terms {
		if !termID.MatchString(id) {
			return nil, &NoteError{File: name, Field: fmt.Sprintf("terms[%d]", i), Msg: fmt.Sprintf("%q is not a glossary id", id)}
		}
	}
	return &st, nil
}

// PlaceholderPath checks that ph names a value a stop can carry: a JSON key
// of walkthrough.Values, then, for an object, one of its keys; never an
// array or an object as a whole.
func PlaceholderPath(ph string) error {
	t := reflect.TypeOf(walkthrough.Values{})
	parts := strings.Split(ph, ".")
	for i, part := range parts {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("{%s}: %s is not an object", ph, strings.Join(parts[:i], "."))
		}
		f, ok := jsonField(t, part)
		if !ok {
			return fmt.Errorf("{%s}: %q is not a key of %s", ph, part, objectName(parts[:i]))
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Array:
		return fmt.Errorf("{%s} is not a single value: name one of its keys", ph)
	}
	return nil
}

func objectName(parts []string) string {
	if len(parts) == 0 {
		return "the stop's values"
	}
	return strings.Join(parts, ".")
}

// jsonField returns the field of struct type t whose JSON key is name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Get returns the study material of phase for version in lang. When lang
// has none it returns the English one and fellBack is true; ok is false
// when there is none at all.
func (s *StudySet) Get(version string, phase walkthrough.PhaseID, lang string) (st *Study, fellBack, ok bool) {
	if s == nil {
		return nil, false, false
	}
	if lang == "" {
		lang = DefaultLang
	}
	if st, ok := s.m[key{lang, version, phase}]; ok {
		return st, false, true
	}
	if st, ok := s.m[key{DefaultLang, version, phase}]; ok {
		return st, lang != DefaultLang, true
	}
	return nil, false, false
}

// All returns every study file, in no particular order.
func (s *StudySet) All() []*Study {
	out := make([]*Study, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	return out
}

// Fill replaces every placeholder of text with the value v holds for it. It
// returns false, and text unchanged, when v lacks any of them.
func Fill(text string, v walkthrough.Values) (string, bool) {
	phs := Placeholders(text)
	if len(phs) == 0 {
		return text, true
	}
	data, err := json.Marshal(v)
	if err != nil {
		return text, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return text, false
	}
	vals := map[string]string{}
	for _, ph := range phs {
		var cur any = m
		for _, part := range strings.Split(ph, ".") {
			obj, ok := cur.(map[string]any)
			if !ok {
				return text, false
			}
			if cur, ok = obj[part]; !ok {
				return text, false
			}
		}
		switch x := cur.(type) {
		case json.Number:
			vals[ph] = x.String()
		case string:
			vals[ph] = x
		case bool:
			vals[ph] = fmt.Sprint(x)
		default:
			return text, false
		}
	}
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		return vals[m[1:len(m)-1]]
	}), true
}

// StudyOptions say how StudyMarkdown lays out a phase's study material.
type StudyOptions struct {
	// Lang is the language of the fixed words; "" means English.
	Lang string
	// Values are the stop's values: the exercise is filled in with them,
	// or its alternative is shown when one is missing. Nil shows the
	// exercise with its placeholders, each explained, then the
	// alternative.
	Values *walkthrough.Values
	// Glossary names the terms; nil leaves the terms line out.
	Glossary *Glossary
	// TermLink returns the link target of a term; nil lists the terms as
	// text and points to `pgwalk glossary`.
	TermLink func(id string) string
	// Level is the level of the headings; 0 means 2.
	Level int
	// Compact, with Values nil, shows the exercise with its placeholders
	// but neither their explanation nor the alternative: for a slide.
	Compact bool
}

// studyWords are the fixed texts of the study part in one language.
type studyWords struct {
	questions, try, instead, terms, glossaryHint, placeholders, filledBy string
}

var studyDictionary = map[string]studyWords{
	"en": {
		questions:    "Questions",
		try:          "Try this",
		instead:      "Without a run's values",
		terms:        "Terms",
		glossaryHint: "`pgwalk glossary TERM` explains each.",
		placeholders: "In braces, values of this stop",
		filledBy:     "`pgwalk run` fills them in.",
	},
	"ko": {
		questions:    "생각해 볼 질문",
		try:          "직접 해 보기",
		instead:      "실행 값이 없을 때",
		terms:        "용어",
		glossaryHint: "`pgwalk glossary 용어`로 각 용어의 설명을 볼 수 있습니다.",
		placeholders: "중괄호 안은 이 정지 지점의 값입니다",
		filledBy:     "`pgwalk run`이 실제 값으로 채웁니다.",
	},
}

func wordsFor(lang string) studyWords {
	if w, ok := studyDictionary[lang]; ok {
		return w
	}
	return studyDictionary[DefaultLang]
}

// placeholderHelp explains each value an exercise may name, by language.
var placeholderHelp = map[string]map[string]string{
	"en": {
		"postmaster_pid":                "the postmaster's pid",
		"child_pid":                     "the new backend's pid",
		"cancel_key":                    "the cancel key, as a signed 32-bit number",
		"child_slot":                    "the child slot",
		"fork_return":                   "what the fork returned in this process",
		"can_accept":                    "canAcceptConnections' answer",
		"errno.name":                    "the failed launch's error name",
		"errno.code":                    "the failed launch's error number",
		"backend.pid":                   "the pid in the postmaster's record of the child",
		"backend.cancel_key":            "the cancel key in the postmaster's record of the child",
		"backend.child_slot":            "the child slot in the postmaster's record of the child",
		"client_backend_key.pid":        "the pid of the BackendKeyData the client received",
		"client_backend_key.secret_key": "the key of the BackendKeyData the client received",
	},
	"ko": {
		"postmaster_pid":                "포스트마스터의 pid",
		"child_pid":                     "새 백엔드의 pid",
		"cancel_key":                    "취소 키(부호 있는 32비트 정수)",
		"child_slot":                    "자식 슬롯 번호",
		"fork_return":                   "이 프로세스에서 fork가 돌려준 값",
		"can_accept":                    "canAcceptConnections의 답",
		"errno.name":                    "실패한 실행의 오류 이름",
		"errno.code":                    "실패한 실행의 오류 번호",
		"backend.pid":                   "포스트마스터가 가진 자식 기록의 pid",
		"backend.cancel_key":            "포스트마스터가 가진 자식 기록의 취소 키",
		"backend.child_slot":            "포스트마스터가 가진 자식 기록의 자식 슬롯",
		"client_backend_key.pid":        "클라이언트가 받은 BackendKeyData의 pid",
		"client_backend_key.secret_key": "클라이언트가 받은 BackendKeyData의 키",
	},
}

// PlaceholderHelp returns what placeholder ph stands for in lang, and
// whether that language explains it.
func PlaceholderHelp(ph, lang string) (string, bool) {
	h, ok := placeholderHelp[lang][ph]
	return h, ok
}

// StudyMarkdown returns the study part of a phase in Markdown: the
// questions, the exercise and the terms line.
func StudyMarkdown(st *Study, o StudyOptions) string {
	if st == nil {
		return ""
	}
	lang := o.Lang
	if lang == "" {
		lang = DefaultLang
	}
	w := wordsFor(lang)
	level := o.Level
	if level <= 0 {
		level = 2
	}
	h := strings.Repeat("#", min(level, 6))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n\n", h, w.questions)
	for i, q := range st.Questions {
		fmt.Fprintf(&b, "%d. %s\n", i+1, strings.TrimSpace(q))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%s %s\n\n", h, w.try)
	switch {
	case o.Values == nil && o.Compact:
		b.WriteString(strings.TrimSpace(st.Try) + "\n\n")
	case o.Values == nil:
		b.WriteString(strings.TrimSpace(st.Try) + "\n\n")
		if phs := Placeholders(st.Try); len(phs) > 0 {
			var parts []string
			for _, ph := range phs {
				help, ok := PlaceholderHelp(ph, lang)
				if !ok {
					help, _ = PlaceholderHelp(ph, DefaultLang)
				}
				parts = append(parts, fmt.Sprintf("`{%s}` %s", ph, help))
			}
			fmt.Fprintf(&b, "%s: %s. %s\n\n", w.placeholders, strings.Join(parts, "; "), w.filledBy)
		}
		fmt.Fprintf(&b, "**%s.** %s\n\n", w.instead, strings.TrimSpace(st.Instead))
	default:
		if text, ok := Fill(st.Try, *o.Values); ok {
			b.WriteString(strings.TrimSpace(text) + "\n\n")
		} else {
			b.WriteString(strings.TrimSpace(st.Instead) + "\n\n")
		}
	}
	if o.Glossary != nil && len(st.Terms) > 0 {
		var names []string
		for _, id := range st.Terms {
			e, err := o.Glossary.Entry(id, lang)
			if err != nil {
				continue
			}
			if o.TermLink != nil {
				names = append(names, fmt.Sprintf("[%s](%s)", e.TermText.Term, o.TermLink(id)))
			} else {
				names = append(names, e.TermText.Term)
			}
		}
		if o.TermLink != nil {
			fmt.Fprintf(&b, "**%s:** %s\n\n", w.terms, strings.Join(names, " · "))
		} else {
			fmt.Fprintf(&b, "**%s:** %s. %s\n\n", w.terms, strings.Join(names, " · "), w.glossaryHint)
		}
	}
	return b.String()
}
