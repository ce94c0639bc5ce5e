package catalog

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// keyArg says where a call takes its catalog key: the index of the
// argument, by the name of the function or method called.
var keyArg = map[string]int{
	"M": 0, "F": 0, "C": 1, // walkthrough.M, F, C
	"S": 1, "Errorf": 1, "Wrap": 2, // catalog.S, Errorf, Wrap
	"errorf": 0, "usage": 0, // the CLI's helpers that say a key
}

// notKey are endings of string literals that look like keys but are file
// names.
var notKey = []string{".go", ".md", ".txt", ".yaml", ".yml", ".json", ".c", ".h", ".sh", ".golden"}

// usedKey is a catalog key found in the code, and where.
type usedKey struct {
	key   string
	where string
}

// scanKeys returns the catalog keys the Go code of the module uses: the
// string literal a call of keyArg passes as its key, and every string
// literal that has a key's form and begins with a namespace the catalog
// has ("render.", "fact.").
func scanKeys(t *testing.T, root string, namespaces []string) []usedKey {
	t.Helper()
	var out []usedKey
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "vendor", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		add := func(lit *ast.BasicLit) {
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return
			}
			out = append(out, usedKey{s, rel + ":" + strconv.Itoa(fset.Position(lit.Pos()).Line)})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				var name string
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if i, ok := keyArg[name]; ok && i < len(n.Args) {
					if lit, ok := n.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, _ := strconv.Unquote(lit.Value); IsKey(s) {
							add(lit)
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil || !IsKey(s) {
					return true
				}
				for _, e := range notKey {
					if strings.HasSuffix(s, e) {
						return true
					}
				}
				ns, _, _ := strings.Cut(s, ".")
				if slices.Contains(namespaces, ns) {
					add(n)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// moduleRoot returns the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// TestKeysInCode: every catalog key the code uses is in every language,
// and every key of the catalog is used somewhere in the code (a key no
// code says is a sentence no one can read: remove it). The code is read,
// not run: TestDriverMessagesInKorean (internal/cli) runs the drivers and
// checks the keys they build at run time.
func TestKeysInCode(t *testing.T) {
	namespaces := []string{"fact", "check"}
	for _, k := range Keys(DefaultLang) {
		ns, _, _ := strings.Cut(k, ".")
		if !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	used := scanKeys(t, moduleRoot(t), namespaces)
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the code: the scan is broken", len(used))
	}
	seen := map[string]bool{}
	for _, u := range used {
		seen[u.key] = true
		for _, lang := range Langs() {
			if !Has(lang, u.key) {
				t.Errorf("%s: key %q has no %s entry (%s.txt)", u.where, u.key, lang, lang)
			}
		}
	}
	for _, k := range Keys(DefaultLang) {
		if !seen[k] {
			t.Errorf("[%s] is in the catalog, but no code says it", k)
		}
	}
}
