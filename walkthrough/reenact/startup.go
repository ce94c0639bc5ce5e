package reenact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The request codes a startup packet may carry instead of a protocol
// version (PostgreSQL's pqcomm.h).
const (
	reqCancel = 1234<<16 | 5678
	reqSSL    = 1234<<16 | 5679
	reqGSS    = 1234<<16 | 5680
)

// maxKeyBytes is the longest cancel key the re-enactment handles: a
// CancelRequest carries at most 256 bytes (ProcessCancelRequestPacket).
const maxKeyBytes = 256

// maxStartupPacket is PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
const maxStartupPacket = 10000

// errNoData is returned by readStartupPacket when the client closed the
// connection before sending a byte: PostgreSQL does not log that.
var errNoData = errors.New("client closed the connection before sending a startup packet")

// startupError is a startup packet PostgreSQL rejects. COMMERROR ones
// are logged and the connection is closed with nothing sent; the others
// are FATAL errors the client receives (Code is their SQLSTATE).
type startupError struct {
	Code    string // "" for a COMMERROR
	Message string
}

func (e *startupError) Error() string { return e.Message }

// readStartupPacket reads one startup packet as ProcessStartupPacket does:
// the length word, then the packet, with PostgreSQL's length limits. It
// reads exactly the packet's bytes from r, so that whatever the client
// sends next is still there for the next reader. It returns the packet's
// first word (a protocol version or a request code) and the packet.
func readStartupPacket(r io.Reader) (code uint32, pkt []byte, err error) {
	var lenWord [4]byte
	if n, err := io.ReadFull(r, lenWord[:]); err != nil {
		if n == 0 {
			return 0, nil, errNoData
		}
		return 0, nil, &startupError{Message: "incomplete startup packet"}
	}
	n := int64(int32(binary.BigEndian.Uint32(lenWord[:]))) - 4
	if n < 4 || n > maxStartupPacket {
		return 0, nil, &startupError{Message: "invalid length of startup packet"}
	}
	pkt = make([]byte, n)
	if _, err := io.ReadFull(r, pkt); err != nil {
		return 0, nil, &startupError{Message: "incomplete startup packet"}
	}
	return binary.BigEndian.Uint32(pkt), pkt, nil
}

// cancelPacket is a CancelRequest: the pid it names and its key.
type cancelPacket struct {
	PID uint32
	Key []byte
}

// parseCancel checks a CancelRequest packet against the release's bounds
// on its key (w.CancelMin to w.CancelMax bytes) and returns it, or the
// COMMERROR the release logs for it.
func parseCancel(pkt []byte, w wireFacts) (cancelPacket, error) {
	if len(pkt) < 8 {
		return cancelPacket{}, &startupError{Message: w.ShortLog}
	}
	key := pkt[8:]
	if len(key) < w.CancelMin || len(key) > w.CancelMax {
		return cancelPacket{}, &startupError{Message: w.BadLengthLog}
	}
	return cancelPacket{PID: binary.BigEndian.Uint32(pkt[4:]), Key: bytes.Clone(key)}, nil
}

// startupParams is a protocol 3 startup packet: the version the client
// asked for, and its parameters in packet order.
type startupParams struct {
	Proto  uint32
	Params [][2]string
	// Unrecognized are the _pq_. options the server does not know, in
	// packet order: every one (no such option is defined).
	Unrecognized []string
}

// get returns the last value of parameter name, as PostgreSQL keeps the
// last one it reads.
func (s startupParams) get(name string) string {
	v := ""
	for _, p := range s.Params {
		if p[0] == name {
			v = p[1]
		}
	}
	return v
}

// parseStartup reads the parameters of a startup packet whose first word
// is protocol version proto, as ProcessStartupPacket does: a major version
// outside the release's range is a FATAL error, and so is a packet whose
// last byte is not the terminator of the list of name/value pairs.
func parseStartup(pkt []byte, w wireFacts) (startupParams, error) {
	proto := binary.BigEndian.Uint32(pkt)
	major, minor := proto>>16, proto&0xffff
	if major < w.Earliest>>16 || major > w.Latest>>16 {
		return startupParams{}, &startupError{Code: "0A000", Message: fmt.Sprintf(
			"unsupported frontend protocol %d.%d: server supports %d.0 to %d.%d",
			major, minor, w.Earliest>>16, w.Latest>>16, w.Latest&0xffff)}
	}
	// PostgreSQL reads the packet with one zero byte appended, so that
	// every string in it ends.
	buf := append(bytes.Clone(pkt), 0)
	n := len(pkt)
	cstr := func(off int) string {
		end := bytes.IndexByte(buf[off:], 0)
		return string(buf[off : off+end])
	}
	sp := startupParams{Proto: proto}
	off := 4
	for off < n {
		name := cstr(off)
		if name == "" {
			break // the terminator
		}
		valOff := off + len(name) + 1
		if valOff >= n {
			break // no value: complained about below
		}
		value := cstr(valOff)
		if len(name) >= 5 && name[:5] == "_pq_." {
			sp.Unrecognized = append(sp.Unrecognized, name)
		} else {
			sp.Params = append(sp.Params, [2]string{name, value})
		}
		off = valOff + len(value) + 1
	}
	if off != n-1 {
		return startupParams{}, &startupError{Code: "08P01", Message: "invalid startup packet layout: expected terminator as last byte"}
	}
	return sp, nil
}

// negotiate returns the protocol version to name in NegotiateProtocolVersion
// and true when the server must send one: when the client asked for a newer
// minor version than the release's latest, or for protocol options. The
// version named is the one the client asked for or the latest the server
// speaks, whichever is older; the session goes on at that version.
func negotiate(sp startupParams, w wireFacts) (uint32, bool) {
	v := min(sp.Proto, w.Latest)
	return v, sp.Proto&0xffff > w.Latest&0xffff || len(sp.Unrecognized) > 0
}
