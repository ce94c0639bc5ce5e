package catalog

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestParse checks the file format: what it reads, and one clear error for
// each kind of mistake.
func TestParse(t *testing.T) {
	good := `
# comment
[run.walked]
one = walked {n} stop
text = walked {n} stops

[fact.which_path]
label = which path
text = "  {path} "

[check.pid]
name = pid = pid
`
	tb, err := parse("good.txt", good)
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.order; !slices.Equal(got, []string{"run.walked", "fact.which_path", "check.pid"}) {
		t.Errorf("order %v", got)
	}
	if e := tb.entries["fact.which_path"]; e.Label != "which path" || e.Text != "  {path} " {
		t.Errorf("fact entry %+v", e)
	}
	if e := tb.entries["check.pid"]; e.Name != "pid = pid" {
		t.Errorf("check entry %+v: the first = separates the field", e)
	}
	bad := []struct{ name, data, want string }{
		{"field before key", "text = x", "a field before the first [key]"},
		{"no text", "[run.x]\none = y", "has no text"},
		{"fact without text", "[fact.x]\nlabel = y", "has no text"},
		{"check without name", "[check.x]\ndetail = y", "has no name"},
		{"wrong field", "[run.x]\nlabel = y\ntext = z", `cannot have a field "label"`},
		{"twice", "[run.x]\ntext = y\n[run.x]\ntext = z", "[run.x] again"},
		{"field twice", "[run.x]\ntext = y\ntext = z", "has text twice"},
		{"empty", "[run.x]\ntext =", "text is empty"},
		{"bad key", "[Run X]\ntext = y", "is not a key"},
		{"no equals", "[run.x]\ntext y", "a field line is name = text"},
		{"open bracket", "[run.x\ntext = y", "a key line is [key]"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("bad.txt", tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestEmbedded checks that the embedded files parse.
func TestEmbedded(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(Keys(DefaultLang)); n < 50 {
		t.Fatalf("only %d English keys", n)
	}
	t.Logf("%d keys", len(Keys(DefaultLang)))
}

// TestSameKeys checks that every language has every English key, no other
// key, the same fields, and the same placeholders in each field: a
// translator can neither lose a value nor invent one.
func TestSameKeys(t *testing.T) {
	en := Keys(DefaultLang)
	for _, lang := range Langs()[1:] {
		t.Run(lang, func(t *testing.T) {
			keys := Keys(lang)
			for _, k := range en {
				if !slices.Contains(keys, k) {
					t.Errorf("%s.txt has no [%s]", lang, k)
				}
			}
			for _, k := range keys {
				if !slices.Contains(en, k) {
					t.Errorf("%s.txt has [%s], which en.txt has not", lang, k)
					continue
				}
				ee, _ := Lookup(DefaultLang, k)
				le, _ := Lookup(lang, k)
				ef, lf := ee.fields(), le.fields()
				for f, text := range lf {
					if _, ok := ef[f]; !ok {
						t.Errorf("[%s] %s: %s.txt has the field, en.txt has not", k, f, lang)
						continue
					}
					if f == "one" {
						if extra := minus(Placeholders(text), Placeholders(ee.Text)); len(extra) > 0 {
							t.Errorf("[%s] one: %s.txt names %v, which the English text has not", k, lang, extra)
						}
						continue
					}
					if p, q := Placeholders(ef[f]), Placeholders(text); !slices.Equal(p, q) {
						t.Errorf("[%s] %s: placeholders en %v, %s %v", k, f, p, lang, q)
					}
				}
				for f := range ef {
					if _, ok := lf[f]; !ok && f != "one" {
						t.Errorf("[%s] %s: %s.txt has no such field", k, f, lang)
					}
				}
				if ee.One != "" {
					if extra := minus(Placeholders(ee.One), Placeholders(ee.Text)); len(extra) > 0 {
						t.Errorf("[%s] one: names %v, which the text has not", k, extra)
					}
				}
			}
		})
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestTranslated checks that no entry of another language is English: a
// copied English sentence would pass TestSameKeys.
func TestTranslated(t *testing.T) {
	for _, lang := range Langs()[1:] {
		for _, k := range Keys(lang) {
			e, _ := Lookup(lang, k)
			for f, text := range e.fields() {
				if en := English(placeholder.ReplaceAllString(text, "X1")); len(en) > 0 {
					t.Errorf("%s [%s] %s = %q: English %q", lang, k, f, text, en)
				}
			}
		}
		for _, at := range Points(lang) {
			if en := English(Point(lang, at)); len(en) > 0 {
				t.Errorf("%s at %q: English %q", lang, Point(lang, at), en)
			}
		}
	}
}

// TestText checks how a message is said: placeholders, the one form, the
// English fallback, and a key the catalog does not have.
func TestText(t *testing.T) {
	tests := []struct {
		lang string
		m    walkthrough.Msg
		want string
	}{
		{"en", walkthrough.M("run.walked", "n", 6, "driver", "reenact"), "walked 6 stops with the reenact driver"},
		{"en", walkthrough.M("run.walked", "n", 1, "driver", "reenact"), "walked 1 stop with the reenact driver"},
		{"ko", walkthrough.M("run.walked", "n", 1, "driver", "reenact"), "reenact 드라이버로 정지 지점 1개를 지나왔습니다"},
		{"fr", walkthrough.M("render.connection", "n", 2), "connection 2"},
		{"ko", walkthrough.M("render.connection"), "연결 {n}"},
		{"ko", walkthrough.M("no.such_key", "b", 2, "a", 1), "no.such_key (a=1, b=2)"},
	}
	for _, tt := range tests {
		if got := Text(tt.lang, tt.m); got != tt.want {
			t.Errorf("Text(%s, %v) = %q, want %q", tt.lang, tt.m, got, tt.want)
		}
	}
	f := walkthrough.Fact{Name: "old", Value: "style"}
	if l, v := Fact("ko", f); l != "old" || v != "style" {
		t.Errorf("old-style fact said as %q, %q", l, v)
	}
	c := walkthrough.Check{Name: "old", Detail: "style"}
	if n, d := Check("ko", c); n != "old" || d != "style" {
		t.Errorf("old-style check said as %q, %q", n, d)
	}
	if err := Wrap("en", errTest, "run.start_failed", "driver", "live"); err.Error() != "starting the live driver: boom" || !errorsIs(err, errTest) {
		t.Errorf("Wrap: %v", err)
	}
}

type testError struct{}

func (testError) Error() string { return "boom" }

var errTest = testError{}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestEnglish checks the test helper that finds English in a text.
func TestEnglish(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"pgwalk: walked 6 stops with the reenact driver", []string{"stops with the"}},
		{"reenact 드라이버로 정지 지점 6개를 지나왔습니다", nil},
		{"postmaster pid 123 · 연결 1 · 드라이버 reenact", nil},
		{"위치: BackendStartup, postmaster.c:4125: malloc이 새 Backend 레코드를", nil},
		{"- `closed_fds`: fd 3 listen socket", []string{"listen socket"}},
		{"pid 1 · cancel_key 2 · bkend_type BACKEND_TYPE_NORMAL · dead_end false", nil},
		{"see https://github.com/postgres/postgres/blob/x or /tmp/a b", []string{"or"}},
		{"--wait-for-client와 --scenario fork-failure", nil},
		{"검증", nil},
		{"Checks", []string{"Checks"}},
		{"the 끝", []string{"the"}},
		{"fork_process()가 -1을", nil},
		{"\x1b[1m1/5단계\x1b[0m · Struct creation · 16.4", []string{"Struct creation"}},
		// Quotations: what PostgreSQL, the system or a command says.
		{`"Operation not permitted"도 프로세스가 있다는 뜻입니다`, nil},
		{`"Max processes"는 한 사용자가 가질 수 있는 프로세스 수입니다`, nil},
		{"자식은 클라이언트에게 “sorry, too many clients already”라고만 알립니다", nil},
		{"옛 형식의 'E' 패킷, pgwalk's own client", []string{"pgwalk's own"}},
		// Shell commands, with their arguments, in a line or in prose.
		{`kill -0 4242 && echo "backend 4242 is alive"`, nil},
		{"grep -i 'max processes' /proc/4242/limits", nil},
		{"ss -xtlp | grep 'pid=4242,'", nil},
		{"pgwalk run --version 16.4 --output json | grep struct-init를 실행하면", nil},
		{"머리글의 pid로 grep State /proc/PID/status를 실행해 보세요", nil},
		{"ps -o pid,args --ppid 4242", nil},
		{"pgwalk glossary 용어로 설명을 볼 수 있습니다", nil},
		{"kill -0 4242 tells whether the process exists", []string{"the process exists"}},
		{"grep the log for errors", []string{"grep the log for errors"}},
		// A fenced code block is code, whatever it says.
		{"다른 셸에서:\n```\nps -o pid,args\nthe child is here\n```\n이 목록을 비교해 보세요", nil},
		{"```\ncode\n```\nthe child closes it", []string{"the child closes it"}},
		// An English original right after its Korean term.
		{"취소 키 (cancel key) · 리슨 소켓 (listen socket)", nil},
		{"클라이언트 소켓 (Port, ClientSocket) · 자식 기록 (Backend, PMChild)", nil},
		{"재연(re-enactment) 드라이버", nil},
		{"연결 구조체: Port", nil},
		// A sentence is a sentence, in parentheses too.
		{"자식이 소켓을 닫습니다 (the child closes it)", []string{"the child closes it"}},
		{"소켓 디렉터리 (private to this user)", []string{"private to this user"}},
		{"fd 3 (listen socket)", []string{"listen socket"}},
		{"(cancel key)", []string{"cancel key"}},
		{"이 단계에서 the postmaster closes the socket", []string{"the", "closes the socket"}},
	}
	for _, tt := range tests {
		if got := English(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("English(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// identifiers are what a translation of an `at:` line keeps as it is:
// file:line references, numbers, names with capitals or underscores and
// calls.
var identifiers = regexp.MustCompile(`[a-z_]+\.c:[0-9-]+|[A-Za-z_]*[A-Z_][A-Za-z0-9_]*|[0-9]+|\w+\(\)`)

// TestAtLines checks the translations of the manifests' `at:` lines: every
// stop of every release the binary embeds has one in every language, each
// keeps the identifiers and numbers of its English line, and none is
// stale (an English line no manifest has any more).
func TestAtLines(t *testing.T) {
	var ats []string
	for _, v := range walkthrough.Versions() {
		for _, p := range v.Release().Plans {
			for _, s := range p.Stops {
				if !slices.Contains(ats, s.At) {
					ats = append(ats, s.At)
				}
			}
		}
	}
	if len(ats) == 0 {
		t.Fatal("no release has a stop: the manifests were not linked")
	}
	for _, lang := range Langs()[1:] {
		for _, at := range ats {
			if !HasPoint(lang, at) {
				t.Errorf("at.%s.txt has no translation of %q", lang, at)
				continue
			}
			tr := Point(lang, at)
			for _, id := range identifiers.FindAllString(at, -1) {
				if !strings.Contains(tr, id) {
					t.Errorf("at.%s.txt: %q lost %q of %q", lang, tr, id, at)
				}
			}
		}
		for _, at := range Points(lang) {
			if !slices.Contains(ats, at) {
				t.Errorf("at.%s.txt translates %q, which no release manifest says (any more)", lang, at)
			}
		}
	}
}

// TestFactAndCheck says a fact and a check that have keys, in English, in
// Korean, and in a language that lacks the key (English), from a catalog
// made for the test.
func TestFactAndCheck(t *testing.T) {
	load()
	en, err := parse("en.txt", "[fact.which_path]\nlabel = which path\ntext = {path}, as {who} does it\n\n[check.pid]\nname = pid = fork return\ndetail = {a} = {b}\n")
	if err != nil {
		t.Fatal(err)
	}
	ko, err := parse("ko.txt", "[fact.which_path]\nlabel = 어느 경로\ntext = {who}가 하는 대로 {path}\n")
	if err != nil {
		t.Fatal(err)
	}
	saved := tables
	tables = map[string]*table{"en": en, "ko": ko}
	t.Cleanup(func() { tables = saved })

	f := walkthrough.F("fact.which_path", "path", "fork+exec", "who", "EXEC_BACKEND")
	c := walkthrough.C(true, "check.pid", "a", 7, "b", 7)
	tests := []struct {
		lang           string
		label, text    string
		name, detail   string
		factAsOneLine  string
		checkAsOneLine string
	}{
		{"en", "which path", "fork+exec, as EXEC_BACKEND does it", "pid = fork return", "7 = 7", "which path: fork+exec, as EXEC_BACKEND does it", "pid = fork return (7 = 7)"},
		{"ko", "어느 경로", "EXEC_BACKEND가 하는 대로 fork+exec", "pid = fork return", "7 = 7", "어느 경로: EXEC_BACKEND가 하는 대로 fork+exec", "pid = fork return (7 = 7)"},
	}
	for _, tt := range tests {
		if l, v := Fact(tt.lang, f); l != tt.label || v != tt.text {
			t.Errorf("%s: fact said as %q: %q", tt.lang, l, v)
		}
		if n, d := Check(tt.lang, c); n != tt.name || d != tt.detail {
			t.Errorf("%s: check said as %q: %q", tt.lang, n, d)
		}
		if got := Text(tt.lang, f.Msg()); got != tt.factAsOneLine {
			t.Errorf("%s: fact as one text %q", tt.lang, got)
		}
		if got := Text(tt.lang, c.Msg()); got != tt.checkAsOneLine {
			t.Errorf("%s: check as one text %q", tt.lang, got)
		}
	}
	if l, v := Fact("ko", walkthrough.F("fact.unknown", "x", 1)); l != "fact.unknown" || v != "x=1" {
		t.Errorf("a fact the catalog lacks is said by its key and args: %q: %q", l, v)
	}
}

// TestFactOne says a fact whose text has a one form: with {n} 1 and with
// another number, as a fact and as one text; a language without the one
// form says every number alike.
func TestFactOne(t *testing.T) {
	load()
	en, err := parse("en.txt", "[fact.list]\nlabel = list\ntext = {n} entries\none = {n} entry\n")
	if err != nil {
		t.Fatal(err)
	}
	ko, err := parse("ko.txt", "[fact.list]\nlabel = 목록\ntext = 항목 {n}개\n")
	if err != nil {
		t.Fatal(err)
	}
	saved := tables
	tables = map[string]*table{"en": en, "ko": ko}
	t.Cleanup(func() { tables = saved })
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 entry"},
		{"en", 0, "0 entries"},
		{"en", 2, "2 entries"},
		{"ko", 1, "항목 1개"},
		{"ko", 2, "항목 2개"},
	}
	for _, tt := range tests {
		f := walkthrough.F("fact.list", "n", tt.n)
		if _, v := Fact(tt.lang, f); v != tt.want {
			t.Errorf("%s n=%d: fact %q, want %q", tt.lang, tt.n, v, tt.want)
		}
		if got, want := Text(tt.lang, f.Msg()), strings.SplitN(Text(tt.lang, walkthrough.M("fact.list")), ":", 2)[0]+": "+tt.want; got != want {
			t.Errorf("%s n=%d: as one text %q, want %q", tt.lang, tt.n, got, want)
		}
	}
}

// TestEventPoint says a stop's point: a driver's catalog message in the
// reader's language (English where the language lacks it), else the
// manifest's English `at:` line, translated where the catalog has it.
func TestEventPoint(t *testing.T) {
	at := Points("ko")
	if len(at) == 0 {
		t.Fatal("no translated at: lines")
	}
	var ev walkthrough.Event
	ev.SetPoint(walkthrough.M("point.reenact.launched", "launch", "fork_process()"))
	tests := []struct {
		lang string
		ev   walkthrough.Event
		want string
	}{
		{"en", ev, "the launch returned the child's pid in the postmaster (fork_process())"},
		{"ko", ev, "런처가 포스트마스터에서 자식의 pid를 돌려주었습니다(fork_process())"},
		{"fr", ev, "the launch returned the child's pid in the postmaster (fork_process())"},
		{"en", walkthrough.Event{Point: at[0]}, at[0]},
		{"ko", walkthrough.Event{Point: at[0]}, Point("ko", at[0])},
		{"ko", walkthrough.Event{Point: "not a manifest line"}, "not a manifest line"},
		{"ko", walkthrough.Event{}, ""},
	}
	for _, tt := range tests {
		if got := EventPoint(tt.lang, tt.ev); got != tt.want {
			t.Errorf("%s %q/%s: %q, want %q", tt.lang, tt.ev.Point, tt.ev.PointKey, got, tt.want)
		}
	}
	if Point("ko", at[0]) == at[0] {
		t.Errorf("%q is not translated", at[0])
	}
}
