package render

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	mdLink  = regexp.MustCompile(`\[([^\]]+)\]\((https?://[^)\s]+)\)`)
	bareURL = regexp.MustCompile(`<?https?://[^\s<>()]+[^\s<>().,;:'"!?]>?`)
)

// footnoteLinks moves the addresses out of md's running text: each link
// becomes its text followed by a number in brackets, and the addresses are
// returned, numbered, for the caller to print unwrapped after the rendered
// text. A terminal renderer would otherwise break a long permalink across
// lines, and a broken address can neither be clicked nor copied.
func footnoteLinks(md string) (string, []string) {
	var links []string
	index := map[string]int{}
	ref := func(url string) string {
		url = strings.Trim(url, "<>")
		n, ok := index[url]
		if !ok {
			links = append(links, url)
			n = len(links)
			index[url] = n
		}
		return fmt.Sprintf("[%d]", n)
	}
	var out []string
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if !inFence && strings.Contains(line, "://") {
			line = mdLink.ReplaceAllStringFunc(line, func(m string) string {
				sub := mdLink.FindStringSubmatch(m)
				return sub[1] + " " + ref(sub[2])
			})
			line = bareURL.ReplaceAllStringFunc(line, ref)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), links
}
