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

// chromium returns the path of a Chromium to test with. It installs
// Debian's package when it is missing and the test runs as root with
// apt-get; otherwise it skips, except in CI (CI=true), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no chromium, and cannot install it (apt-get: %v, euid %d)", err, os.Geteuid())
		}
		t.Skip("no chromium; run as root with apt-get to install it, or install Debian's chromium package")
	}
	t.Log("installing Debian's chromium package with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.Command(apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium installed but not found: %v", err)
	}
	return p
}

// runChromium runs a headless Chromium with args after the common ones and
// returns its standard output.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	// A hung browser must not hang the test run; this bounds it, it does
	// not measure it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	common := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(common, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
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
