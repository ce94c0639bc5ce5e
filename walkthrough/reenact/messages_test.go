package reenact

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

func placeholders(s string) []string {
	p := placeholderRE.FindAllString(s, -1)
	sort.Strings(p)
	return slices.Compact(p)
}

// TestMessages: every message has an English and a Korean text with the
// same placeholders; every fact has a label and a text and every check a
// name and a detail; every key the code says is there, and every key
// there is said.
func TestMessages(t *testing.T) {
	for key, m := range messages {
		if m.en == "" || m.ko == "" {
			t.Errorf("%s: English %q, Korean %q: both are needed", key, m.en, m.ko)
			continue
		}
		if !slices.Equal(placeholders(m.en), placeholders(m.ko)) {
			t.Errorf("%s: placeholders %v in English, %v in Korean", key, placeholders(m.en), placeholders(m.ko))
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	keyRE := regexp.MustCompile(`\b(fact|check)\((?:[^,()]+, )?"((?:fact|check)\.reenact\.[a-z_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(src), -1) {
			used[m[2]] = true
		}
	}
	if len(used) == 0 {
		t.Fatal("found no message keys in the code: the pattern is wrong")
	}
	for key := range used {
		second := ".value"
		if strings.HasPrefix(key, "check.") {
			second = ".detail"
		}
		for _, k := range []string{key, key + second} {
			if _, ok := messages[k]; !ok {
				t.Errorf("the code says %s, messages.txt has no %s", key, k)
			}
		}
	}
	for key := range messages {
		base := strings.TrimSuffix(strings.TrimSuffix(key, ".value"), ".detail")
		if !used[base] {
			t.Errorf("messages.txt has %s, which no code says", key)
		}
	}
}

// TestFactFillsEnglish: a fact carries its key and arguments, and its
// English label and text with every placeholder filled.
func TestFactFillsEnglish(t *testing.T) {
	f := fact("fact.reenact.child_no_key", "function", "PostgresMain", "at", "postgres.c:4264-4282", "variable", "MyCancelKey")
	if f.Key != "fact.reenact.child_no_key" || f.Args["function"] != "PostgresMain" || f.Name != "MyCancelKey" ||
		f.Value != "not made yet: PostgresMain makes it after the startup packet has been read (postgres.c:4264-4282)" {
		t.Errorf("fact = %+v", f)
	}
	c := check(true, "check.reenact.key_width", "protocol", "3.2", "bytes", 32, "want", 32)
	if !c.OK || c.Name != "key length for a client that asked for protocol 3.2" || c.Detail != "32 bytes, 32 expected" {
		t.Errorf("check = %+v", c)
	}
}
