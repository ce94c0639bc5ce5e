package live

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// message is one line of messages.txt.
type message struct{ en, ko string }

var (
	messagesOnce sync.Once
	messages     map[string]message
	messagesErr  error
	placeholder  = regexp.MustCompile(`\{(\w+)\}`)
	keyInSource  = regexp.MustCompile(`"((?:fact|check|say)\.live\.[a-z0-9_]+)"`)
)

// loadMessages reads messages.txt: key, English, Korean, tab-separated.
func loadMessages(tb testing.TB) map[string]message {
	tb.Helper()
	messagesOnce.Do(func() {
		f, err := os.Open("messages.txt")
		if err != nil {
			messagesErr = err
			return
		}
		defer f.Close()
		messages = map[string]message{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			parts := strings.Split(l, "\t")
			if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
				messagesErr = &os.PathError{Op: "parse", Path: "messages.txt", Err: os.ErrInvalid}
				return
			}
			messages[parts[0]] = message{parts[1], parts[2]}
		}
		messagesErr = sc.Err()
	})
	if messagesErr != nil {
		tb.Fatal(messagesErr)
	}
	return messages
}

func placeholders(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// checkMsg fails tb when m's key is not in messages.txt or its arguments
// are not the placeholders of its texts.
func checkMsg(tb testing.TB, m walkthrough.Msg) {
	tb.Helper()
	msg, ok := loadMessages(tb)[m.Key]
	if !ok {
		tb.Errorf("message %q is not in messages.txt", m.Key)
		return
	}
	var args []string
	for a := range m.Args {
		args = append(args, a)
	}
	sort.Strings(args)
	if want := placeholders(msg.en); !slices.Equal(args, want) {
		tb.Errorf("message %s has the arguments %v; its text names %v", m.Key, args, want)
	}
}

// TestMessagesFile: every key the driver uses has an English and a Korean
// text with the same placeholders, and every key listed is used.
func TestMessagesFile(t *testing.T) {
	msgs := loadMessages(t)
	for k, m := range msgs {
		if en, ko := placeholders(m.en), placeholders(m.ko); !slices.Equal(en, ko) {
			t.Errorf("%s: the English text names %v, the Korean %v", k, en, ko)
		}
	}
	used := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyInSource.FindAllStringSubmatch(string(src), -1) {
			used[m[1]] = true
			if _, ok := msgs[m[1]]; !ok {
				t.Errorf("%s uses %s, which messages.txt lacks", f, m[1])
			}
		}
	}
	for k := range msgs {
		if !used[k] {
			t.Errorf("messages.txt lists %s, which the driver does not use", k)
		}
	}
}
