package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/internal/iostreams"
)

// TestPipedRunWrapsOnce runs pgwalk off a terminal, as `pgwalk run | cat`
// does: no line ends in a blank, and no line is wider than the width but a
// listed permalink, in every style, at 80 columns (the default) and 60.
func TestPipedRunWrapsOnce(t *testing.T) {
	for _, tc := range []struct{ driver, style, width string }{
		{"reenact", "auto", ""}, {"narrate", "notty", "60"}, {"narrate", "dark", "80"}, {"narrate", "ascii", "80"},
	} {
		t.Run(tc.driver+"/"+tc.style+"/"+tc.width, func(t *testing.T) {
			io, _, out, errOut := iostreams.Test()
			args := []string{"run", "--version", "16.4", "--driver", tc.driver, "--style", tc.style}
			width := 80
			if tc.width != "" {
				args = append(args, "--width", tc.width)
				width = 60
				if tc.width == "80" {
					width = 80
				}
			}
			if code := Execute(context.Background(), NewFactory(io), args); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := strings.Split(out.String(), "\n")
			if len(lines) < 200 {
				t.Fatalf("only %d lines", len(lines))
			}
			for i, l := range lines {
				plain := ansi.Strip(l)
				if strings.HasSuffix(plain, " ") {
					t.Errorf("line %d ends in a blank: %q", i+1, plain)
				}
				if w := ansi.StringWidth(l); w > width && !strings.HasPrefix(strings.TrimSpace(plain), "[") {
					t.Errorf("line %d is %d columns, wider than %d: %q", i+1, w, width, plain)
				}
			}
		})
	}
}
