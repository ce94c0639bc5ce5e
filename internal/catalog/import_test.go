package catalog

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var importFile = flag.String("import", "", "append the messages of this key<TAB>English<TAB>Korean file to en.txt and ko.txt")

// importTSV reads a driver's messages.txt: one message a line,
// "key<TAB>English<TAB>Korean", comments (#) and blank lines between. A
// fact's key is its text, or its label when "<key>.value" holds the text;
// a check's key is its name, and "<key>.detail" its detail. It returns the
// entries in the order of the file, English and Korean.
func importTSV(data string) (keys []string, en, ko map[string]Entry, err error) {
	en, ko = map[string]Entry{}, map[string]Entry{}
	type line struct{ key, en, ko string }
	var lines []line
	values := map[string]bool{}
	for i, l := range strings.Split(data, "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			return nil, nil, nil, fmt.Errorf("line %d: %d fields, want key<TAB>English<TAB>Korean", i+1, len(f))
		}
		lines = append(lines, line{f[0], f[1], f[2]})
		if base, ok := strings.CutSuffix(f[0], ".value"); ok {
			values[base] = true
		}
	}
	for _, l := range lines {
		key, field := l.key, "text"
		switch {
		case strings.HasSuffix(key, ".value"):
			key = strings.TrimSuffix(key, ".value")
		case strings.HasSuffix(key, ".detail"):
			key, field = strings.TrimSuffix(key, ".detail"), "detail"
		case strings.HasPrefix(key, "fact.") && values[key]:
			field = "label"
		case strings.HasPrefix(key, "check."):
			field = "name"
		}
		if _, ok := en[key]; !ok {
			keys = append(keys, key)
		}
		for _, t := range []struct {
			m    map[string]Entry
			text string
		}{{en, l.en}, {ko, l.ko}} {
			e := t.m[key]
			switch field {
			case "text":
				e.Text = t.text
			case "label":
				e.Label = t.text
			case "name":
				e.Name = t.text
			case "detail":
				e.Detail = t.text
			}
			t.m[key] = e
		}
	}
	return keys, en, ko, nil
}

// format writes the entries of keys in the catalog's format.
func format(keys []string, entries map[string]Entry) string {
	var b strings.Builder
	for _, k := range keys {
		e := entries[k]
		fmt.Fprintf(&b, "\n[%s]\n", k)
		for _, f := range []struct{ name, text string }{{"label", e.Label}, {"name", e.Name}, {"text", e.Text}, {"detail", e.Detail}} {
			if f.text == "" {
				continue
			}
			if strings.TrimSpace(f.text) != f.text {
				f.text = `"` + f.text + `"`
			}
			fmt.Fprintf(&b, "%s = %s\n", f.name, f.text)
		}
	}
	return b.String()
}

// TestImport appends a driver's messages.txt to en.txt and ko.txt when run
// with -import FILE (go test ./internal/catalog -run TestImport -import
// ../../walkthrough/live/messages.txt); the other tests then check them.
func TestImport(t *testing.T) {
	keys, en, ko, err := importTSV("# c\nfact.a\twhich path\t어느 경로\nfact.a.value\t{p} it is\t{p}입니다\nfact.b\t{f} returned\t{f}가 반환함\ncheck.c\tsame pid\t같은 pid\ncheck.c.detail\t{a} = {b}\t{a} = {b}\nsay.d\twaiting\t기다리는 중\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "\n[fact.a]\nlabel = which path\ntext = {p} it is\n\n[fact.b]\ntext = {f} returned\n\n[check.c]\nname = same pid\ndetail = {a} = {b}\n\n[say.d]\ntext = waiting\n"
	if got := format(keys, en); got != want {
		t.Errorf("English:\n%s\nwant:\n%s", got, want)
	}
	if ko["fact.a"].Label != "어느 경로" {
		t.Errorf("Korean %+v", ko["fact.a"])
	}
	if *importFile == "" {
		return
	}
	data, err := os.ReadFile(*importFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, en, ko, err = importTSV(string(data))
	if err != nil {
		t.Fatalf("%s: %v", *importFile, err)
	}
	for lang, entries := range map[string]map[string]Entry{"en": en, "ko": ko} {
		f, err := os.OpenFile(lang+".txt", os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(f, "\n# ---------------------------------------------------------------------------\n# From %s\n%s", *importFile, format(keys, entries))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("appended %d keys to en.txt and ko.txt", len(keys))
}
