package cli

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/source"
)

func glossaryCmd(f *Factory) *cobra.Command { return NewCmdGlossary(f, nil) }

func TestGlossaryCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    ExitCode
		want    []string
		notWant []string
		wantErr string
	}{
		{name: "index", args: []string{"--style", "notty"}, want: []string{"Glossary", "PMChildSlot (child slot) (child-slot):", "postmaster: The server's first process"}, notWant: []string{"(postmaster):"}},
		{name: "index in Korean", args: []string{"--lang", "ko"}, want: []string{"용어집", "데드엔드 자식 (dead-end child) (dead-end-child):"}},
		{name: "one term", args: []string{"BackendList", "--width", "200"}, want: []string{"# BackendList / ActiveChildList", "REL_16_4/src/backend/postmaster/postmaster.c#L150-L174", "REL_18_4/src/backend/postmaster/pmchild.c#L57-L60"}},
		{name: "one release", args: []string{"child-list", "--version", "17.1"}, want: []string{"REL_17_1"}, notWant: []string{"REL_16_4", "REL_18_4"}},
		{name: "all", args: []string{"--all"}, want: []string{"# postmaster", "# BackendKeyData", "# re-enactment, live trace, narration"}},
		{name: "unknown", args: []string{"forks"}, code: ExitUsage, wantErr: `no glossary term "forks"`},
		{name: "two words", args: []string{"child", "slot"}, code: ExitUsage, wantErr: "quote a term of several words"},
		{name: "term and all", args: []string{"postmaster", "--all"}, code: ExitUsage, wantErr: "give no TERM with it"},
		{name: "unknown version", args: []string{"--version", "15"}, code: ExitUsage, wantErr: `unknown version "15"`},
		{name: "unknown lang", args: []string{"--lang", "fr"}, code: ExitUsage, wantErr: "unknown language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, nil, glossaryCmd, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %v", r.code, tt.code, r.err)
			}
			if tt.wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", r.err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.out, w) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}

// TestGlossaryCitesRealSource checks every range the glossary cites against
// the tree or clone of PGWALK_PG_SOURCE, for each release whose text it
// holds (skipped when the variable is not set).
func TestGlossaryCitesRealSource(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	if dir == "" {
		t.Skip("PGWALK_PG_SOURCE is not set")
	}
	g, err := annotations.DefaultGlossary()
	if err != nil {
		t.Fatal(err)
	}
	rels, err := annotations.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := source.Open(source.Options{Dir: dir, CacheDir: t.TempDir()})
	held := 0
	for _, rel := range rels {
		fn := rel.Function
		if fn == nil {
			continue
		}
		lines, _, err := store.File(ctx, rel.Version, fn.File)
		if err != nil {
			continue
		}
		if h, err := source.RangeHash(lines, fn.First, fn.Last); err != nil || h != fn.SHA256 {
			continue // the tree holds another release
		}
		held++
		checked := 0
		for _, term := range g.Terms() {
			for _, c := range term.Cites {
				if c.Release != rel.Version.Name {
					continue
				}
				lines, _, err := store.File(ctx, rel.Version, c.File)
				if err != nil {
					t.Errorf("%s: %s %s: %v", term.ID, c.Release, c.Ref, err)
					continue
				}
				if r := source.Check(lines, c.Ref); !r.OK() {
					t.Errorf("%s: %s %s", term.ID, c.Release, r)
				}
				checked++
			}
		}
		t.Logf("%s: %d glossary cites match", rel.Version.Name, checked)
	}
	if held == 0 {
		t.Errorf("%s holds the text of no release", dir)
	}
}
