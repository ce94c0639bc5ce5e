package iostreams

import (
	"testing"
)

// TestTerminalSize checks the size off a terminal: COLUMNS and LINES,
// uncapped (a projector's terminal may be wider than MaxWidth), else 80x24.
func TestTerminalSize(t *testing.T) {
	tests := []struct {
		env  map[string]string
		w, h int
	}{
		{map[string]string{}, DefaultWidth, DefaultHeight},
		{map[string]string{"COLUMNS": "170", "LINES": "40"}, 170, 40},
		{map[string]string{"COLUMNS": "junk", "LINES": "-3"}, DefaultWidth, DefaultHeight},
	}
	for _, tt := range tests {
		s, _, _, _ := Test()
		s.Getenv = func(k string) string { return tt.env[k] }
		if w, h := s.TerminalSize(); w != tt.w || h != tt.h {
			t.Errorf("env %v: size %dx%d, want %dx%d", tt.env, w, h, tt.w, tt.h)
		}
	}
	s, _, _, _ := Test()
	s.SetWidth(90)
	if w, _ := s.TerminalSize(); w != 90 {
		t.Errorf("SetWidth(90): width %d", w)
	}
}
