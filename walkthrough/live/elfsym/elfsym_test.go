package elfsym

import (
	"strings"
	"testing"
)

func TestParseMaps(t *testing.T) {
	text := `55d0c5a00000-55d0c5b00000 r--p 00000000 fd:01 1234    /opt/pg/bin/postgres
55d0c5b00000-55d0c5f00000 r-xp 00100000 fd:01 1234    /opt/pg/bin/postgres
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0       [stack]
7f1000000000-7f1000001000 r--p 00000000 fd:01 99      /opt/a dir/with space.so
`
	maps, err := ParseMaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 {
		t.Fatalf("parsed %d mappings, want 5", len(maps))
	}
	tests := []struct {
		i     int
		start uint64
		off   uint64
		path  string
	}{
		{0, 0x55d0c5a00000, 0, "/opt/pg/bin/postgres"},
		{1, 0x55d0c5b00000, 0x100000, "/opt/pg/bin/postgres"},
		{2, 0x7f0000000000, 0, ""},
		{3, 0x7ffd00000000, 0, "[stack]"},
		{4, 0x7f1000000000, 0, "/opt/a dir/with space.so"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := maps[tt.i]
			if m.Start != tt.start || m.Offset != tt.off || m.Path != tt.path {
				t.Errorf("mapping %d = %+v, want start %#x offset %#x path %q", tt.i, m, tt.start, tt.off, tt.path)
			}
		})
	}
	if _, err := ParseMaps(strings.NewReader("zz-10 r--p 0 fd:01 1 /x\n")); err == nil {
		t.Error("a bad range parsed")
	}
	if p, ok := LibcPath(maps); ok {
		t.Errorf("LibcPath found %q in maps without a C library", p)
	}
	withLibc := append(maps, Mapping{Path: "/lib/x86_64-linux-gnu/libc.so.6"})
	if p, ok := LibcPath(withLibc); !ok || p != "/lib/x86_64-linux-gnu/libc.so.6" {
		t.Errorf("LibcPath = %q, %v", p, ok)
	}
}
