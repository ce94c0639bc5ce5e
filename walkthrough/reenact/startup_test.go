package reenact

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// TestParseCancel: the key of a CancelRequest must have the release's
// length (4 bytes in 16 and 17, 1 to 256 in 18), and a packet too short for
// a pid is refused with the release's own log line.
func TestParseCancel(t *testing.T) {
	v16, v18 := flavorFor(version(t, "16.4")).wire, flavorFor(version(t, "18.4")).wire
	pkt := func(key ...byte) []byte {
		return append(appendBE32(appendBE32(nil, reqCancel), 4242), key...)
	}
	tests := []struct {
		name string
		w    wireFacts
		pkt  []byte
		log  string // "" when accepted
	}{
		{"16.4, 4 bytes", v16, pkt(1, 2, 3, 4), ""},
		{"16.4, 8 bytes", v16, pkt(1, 2, 3, 4, 5, 6, 7, 8), "invalid length of startup packet"},
		{"16.4, no pid", v16, appendBE32(nil, reqCancel), "invalid length of startup packet"},
		{"18.4, 4 bytes", v18, pkt(1, 2, 3, 4), ""},
		{"18.4, 32 bytes", v18, pkt(bytes.Repeat([]byte{9}, 32)...), ""},
		{"18.4, 256 bytes", v18, pkt(bytes.Repeat([]byte{9}, 256)...), ""},
		{"18.4, 257 bytes", v18, pkt(bytes.Repeat([]byte{9}, 257)...), "invalid length of cancel key in cancel request packet"},
		{"18.4, no key", v18, pkt(), "invalid length of cancel key in cancel request packet"},
		{"18.4, no pid", v18, appendBE32(nil, reqCancel), "invalid length of cancel request packet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := parseCancel(tt.pkt, tt.w)
			var se *startupError
			switch {
			case tt.log == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.log == "" && (cp.PID != 4242 || !bytes.Equal(cp.Key, tt.pkt[8:])):
				t.Errorf("parsed %+v", cp)
			case tt.log != "" && (!errors.As(err, &se) || se.Message != tt.log || se.Code != ""):
				t.Errorf("err = %v, want the COMMERROR %q", err, tt.log)
			}
		})
	}
}

// TestParseStartup reads parameters in packet order and refuses what
// ProcessStartupPacket refuses.
func TestParseStartup(t *testing.T) {
	w := flavorFor(version(t, "18.4")).wire
	sp, err := parseStartup(append(appendBE32(nil, 0x30002), "user\x00u\x00_pq_.b\x001\x00database\x00d\x00user\x00v\x00_pq_.a\x00\x00\x00"...), w)
	if err != nil {
		t.Fatal(err)
	}
	if sp.get("user") != "v" || sp.get("database") != "d" || !slices.Equal(sp.Unrecognized, []string{"_pq_.b", "_pq_.a"}) {
		t.Errorf("parsed %+v", sp)
	}
	if v, ok := negotiate(sp, w); !ok || v != 0x30002 {
		t.Errorf("negotiate = %x %t, want 3.2 (the options)", v, ok)
	}
	// A last byte that starts a name of its own ends the scan on the
	// packet's last byte, which PostgreSQL takes for the terminator.
	if sp, err := parseStartup(append(appendBE32(nil, 0x30000), "user\x00u\x00x"...), w); err != nil || sp.get("user") != "u" {
		t.Errorf("a trailing name: %+v, %v; want the packet accepted as PostgreSQL accepts it", sp, err)
	}
	for _, tt := range []struct {
		name string
		pkt  []byte
		code string
	}{
		{"protocol 2.0", append(appendBE32(nil, 0x20000), "user\x00u\x00\x00"...), "0A000"},
		{"protocol 4.0", append(appendBE32(nil, 0x40000), "user\x00u\x00\x00"...), "0A000"},
		{"no terminator", append(appendBE32(nil, 0x30000), "user\x00u\x00"...), "08P01"},
		{"a name without a value", append(appendBE32(nil, 0x30000), "user\x00"...), "08P01"},
		{"bytes after the terminator", append(appendBE32(nil, 0x30000), "user\x00u\x00\x00x"...), "08P01"},
	} {
		_, err := parseStartup(tt.pkt, w)
		var se *startupError
		if !errors.As(err, &se) || se.Code != tt.code {
			t.Errorf("%s: err = %v, want a FATAL %s", tt.name, err, tt.code)
		}
	}
}

// TestReadStartupPacket: the length limits, and exactly the packet's bytes
// read, so that the next message is still there.
func TestReadStartupPacket(t *testing.T) {
	next := []byte("NEXT")
	r := bytes.NewReader(append(append(appendBE32(nil, 8), appendBE32(nil, reqSSL)...), next...))
	code, pkt, err := readStartupPacket(r)
	if err != nil || code != reqSSL || len(pkt) != 4 {
		t.Fatalf("read %x %x %v", code, pkt, err)
	}
	if rest := make([]byte, 8); func() bool { n, _ := r.Read(rest); return !bytes.Equal(rest[:n], next) }() {
		t.Error("read past the packet")
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want error
	}{
		{"nothing", nil, errNoData},
		{"half a length", []byte{0, 0}, &startupError{Message: "incomplete startup packet"}},
		{"too short", appendBE32(nil, 7), &startupError{Message: "invalid length of startup packet"}},
		{"too long", appendBE32(nil, 10005), &startupError{Message: "invalid length of startup packet"}},
		{"cut short", append(appendBE32(nil, 12), 0, 3, 0, 0), &startupError{Message: "incomplete startup packet"}},
	} {
		_, _, err := readStartupPacket(bytes.NewReader(tt.in))
		if err == nil || err.Error() != tt.want.Error() {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
