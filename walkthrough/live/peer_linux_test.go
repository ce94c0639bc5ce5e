package live

import (
	"encoding/binary"
	"testing"
)

func TestDecodeUnixAddr(t *testing.T) {
	addr := func(family uint16, path string, salen int) []byte {
		raw := make([]byte, sockAddrSize)
		binary.LittleEndian.PutUint16(raw, family)
		copy(raw[2:], path)
		binary.LittleEndian.PutUint32(raw[sockAddrLen:], uint32(salen))
		return raw
	}
	tests := []struct {
		name string
		raw  []byte
		want string
		bad  bool
	}{
		// Linux gives an abstract address no trailing NUL (unix(7)).
		{"abstract", addr(1, "\x00pgwalk-1-ab", 2+12), "@pgwalk-1-ab", false},
		{"path", addr(1, "/tmp/s\x00", 2+7), "/tmp/s", false},
		{"unnamed", addr(1, "", 2), "", false},
		{"not unix", addr(2, "", 16), "", true},
		{"length past sun_path", addr(1, "", 200), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeUnixAddr(tt.raw)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("decodeUnixAddr = %q, %v; want %q (error: %v)", got, err, tt.want, tt.bad)
			}
		})
	}
}
