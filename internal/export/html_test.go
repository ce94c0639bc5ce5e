package export

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// externalRE matches what would make a page load something from elsewhere.
var externalRE = regexp.MustCompile(`(?i)<script|<link|<iframe|<img|<object|<embed|\ssrc\s*=|@import|url\(`)

// pageHrefRE matches every link target of a page.
var pageHrefRE = regexp.MustCompile(`href="([^"]*)"`)

func TestHTMLSelfContained(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			page, err := HTML(Input{Version: v164(t), Notes: defaultNotes(t), Lang: lang, Events: toyEvents()})
			if err != nil {
				t.Fatal(err)
			}
			s := string(page)
			if m := externalRE.FindString(s); m != "" {
				t.Errorf("page loads something from elsewhere: %q", m)
			}
			for _, m := range pageHrefRE.FindAllStringSubmatch(s, -1) {
				if !strings.HasPrefix(m[1], "#") && !strings.HasPrefix(m[1], "https://github.com/postgres/postgres/blob/REL_16_4/") {
					t.Errorf("link to %s", m[1])
				}
			}
			for _, want := range []string{`<html lang="` + lang + `">`, "<style>", "@media print", `<meta charset="utf-8">`} {
				if !strings.Contains(s, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			for _, p := range walkthrough.Phases() {
				if !strings.Contains(s, `<section class="phase" id="`+string(p.ID)+`">`) {
					t.Errorf("no section for %s", p.ID)
				}
			}
		})
	}
}

func TestHTMLEscapes(t *testing.T) {
	set := toySet(t, func(p walkthrough.Phase) (string, string) {
		return "<b>" + p.Title + "</b>", "Text with <script>alert(1)</script> and a & b < c.\n\n<img src=x onerror=alert(2)>\n"
	})
	evs := toyEvents()
	evs[0].Values.Facts = []walkthrough.Fact{{Name: "hostile", Value: "<script>alert(3)</script>"}}
	evs[0].Point = `"><svg onload=alert(4)>`
	page, err := HTML(Input{Version: v164(t), Notes: set, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, bad := range []string{"<script", "<img", "<svg", "onerror=alert", "<b>"} {
		if strings.Contains(s, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(s, "a &amp; b &lt; c") {
		t.Errorf("text was not escaped as text")
	}
	// Markup in a stop's point is dropped by goldmark, the text around it
	// is escaped.
	if !strings.Contains(s, "toy point 2") || !strings.Contains(s, "&quot;&gt;") {
		t.Errorf("the stops' points are missing or unescaped")
	}
}

// chromium returns the path of a Chromium to test with. scripts/test.sh
// installs Debian's chromium package; a test never installs anything.
// Without one the test skips, saying so, except in CI (CI=true), which
// must not skip: there it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "no Chromium on PATH (chromium, chromium-browser or google-chrome): bash scripts/test.sh installs Debian's chromium package"
	if os.Getenv("CI") == "true" {
		t.Fatal(why + "; CI must run this test")
	}
	t.Skip(why)
	return ""
}

// chromiumTimeout bounds one Chromium run, so that a hung browser fails
// the test instead of hanging the run; it measures nothing.
const chromiumTimeout = 3 * time.Minute

// runChromium runs a headless Chromium with args after the common ones and
// returns its standard output. The common arguments let it run as root
// (--no-sandbox) with nothing of its own: no GPU, no network of its own
// accord, a fresh profile.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	common := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(common, args...)...)
	// Once Chromium is killed, its helper processes may still hold its
	// output open: stop reading it after a while rather than wait on.
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("%s %s did not finish within %v (killed): %v\n%s", bin, strings.Join(args, " "), chromiumTimeout, err, stderr.String())
		}
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestHTMLInChromium opens the page of a run in headless Chromium and checks
// that the browser's DOM has every phase's section and heading, then takes
// a screenshot. PGWALK_SCREENSHOT_DIR keeps the screenshots for a person to
// look at.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			in := Input{Version: v164(t), Notes: defaultNotes(t), Lang: lang, Events: toyEvents()}
			page, err := HTML(in)
			if err != nil {
				t.Fatal(err)
			}
			d, err := build(in)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "handout-"+lang+".html")
			if err := os.WriteFile(file, page, 0o644); err != nil {
				t.Fatal(err)
			}
			dom := string(runChromium(t, bin, "--dump-dom", "file://"+file))
			if !strings.Contains(dom, "</main>") {
				t.Fatalf("Chromium's DOM has no <main>:\n%.500s", dom)
			}
			for _, s := range d.sections {
				want := `<section class="phase" id="` + s.ID() + `">` + "\n<h2>" + d.Heading(s) + "</h2>"
				if !strings.Contains(dom, want) {
					t.Errorf("the DOM lacks %q", want)
				}
			}
			shotDir := os.Getenv("PGWALK_SCREENSHOT_DIR")
			if shotDir == "" {
				shotDir = dir
			}
			shot := filepath.Join(shotDir, "handout-"+lang+".png")
			runChromium(t, bin, "--hide-scrollbars", "--window-size=1280,2400", "--screenshot="+shot, "file://"+file)
			png, err := os.ReadFile(shot)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
				t.Errorf("the screenshot is not a plausible PNG (%d bytes)", len(png))
			}
		})
	}
}
