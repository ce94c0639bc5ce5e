//go:build unix

package reenact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The request codes of the packets a client may send first (PostgreSQL's
// pqcomm.h numbers; pgproto3 knows them too).
const (
	codeCancel = 80877102
	codeSSL    = 80877103
	codeGSS    = 80877104
)

// fuzzConn is a net.Conn that reads from a fixed input, then reports EOF,
// and records what is written to it.
type fuzzConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

func be32(b []byte) uint32                 { return binary.BigEndian.Uint32(b) }
func appendBE32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// packet returns a startup-phase packet: length, request code, body.
func packet(code uint32, body ...byte) []byte {
	b := appendBE32(nil, uint32(8+len(body)))
	b = appendBE32(b, code)
	return append(b, body...)
}

// startupBody returns each string followed by a NUL, then a final NUL:
// the parameter list of a StartupMessage.
func startupBody(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// frontendMsg returns a regular message: type byte, length, body.
func frontendMsg(typ byte, body []byte) []byte {
	return append(appendBE32([]byte{typ}, uint32(4+len(body))), body...)
}

// outcome is how a backend ends its startup.
type outcome int

const (
	// rejected: an error is reported, no session starts.
	rejected outcome = iota
	// sessionStarted: AuthenticationOk, BackendKeyData and ReadyForQuery
	// are sent.
	sessionStarted
	// cancelled: the CancelRequest is forwarded, nothing is sent back.
	cancelled
)

// expected decides, independently of serveBackend, how a backend must
// answer input: it walks the encryption requests, then judges the first
// other packet by the length limits and request codes of the protocol.
// It returns the outcome, how many encryption requests precede the
// packet, and for a CancelRequest its pid and key.
func expected(in []byte, deadEnd bool) (o outcome, encReqs int, pid uint32, key int32) {
	for off := 0; ; {
		rest := in[off:]
		if len(rest) < 4 {
			return rejected, encReqs, 0, 0 // EOF before or inside the length word
		}
		l := int64(int32(be32(rest)))
		if l-4 < 4 || l-4 > 10000 {
			return rejected, encReqs, 0, 0 // PostgreSQL's MAX_STARTUP_PACKET_LENGTH, and room for a code
		}
		if int64(len(rest)) < l {
			return rejected, encReqs, 0, 0 // EOF inside the packet
		}
		body := rest[4:l]
		switch code := be32(body); {
		case code == codeSSL || code == codeGSS:
			encReqs++
			off += int(l)
			continue
		case code == codeCancel:
			if len(body) != 12 {
				return rejected, encReqs, 0, 0 // only 4-byte keys are known to 16 and 17
			}
			return cancelled, encReqs, be32(body[4:]), int32(be32(body[8:]))
		case code>>16 == 3:
			// Any minor version of protocol 3: a newer one than the
			// server's gets NegotiateProtocolVersion, not a refusal.
			user, ok := oracleParams(body[4:])
			if !ok || user == "" || deadEnd {
				return rejected, encReqs, 0, 0
			}
			return sessionStarted, encReqs, 0, 0
		default:
			return rejected, encReqs, 0, 0
		}
	}
}

// oracleParams judges the parameter list b of a protocol 3 startup packet
// the way ProcessStartupPacket's loop does (a zero byte appended, so that
// every string ends): name/value pairs until an empty name or a name whose
// value would start past the end; the packet is good when the scan stops
// on its last byte. That is usually the terminating zero byte, but a last
// byte that starts a name of its own is accepted too: PostgreSQL does. It
// returns the last "user" value.
func oracleParams(b []byte) (user string, ok bool) {
	buf := append(append([]byte(nil), b...), 0)
	str := func(i int) string { return string(buf[i : i+bytes.IndexByte(buf[i:], 0)]) }
	i := 0
	for i < len(b) {
		name := str(i)
		if name == "" || i+len(name)+1 >= len(b) {
			break
		}
		value := str(i + len(name) + 1)
		if name == "user" {
			user = value
		}
		i += len(name) + 1 + len(value) + 1
	}
	return user, i == len(b)-1
}

// FuzzServeBackendStartup feeds arbitrary bytes to the backend's side of
// the connection, from the startup packet on, and checks that it never
// panics or hangs, that it rejects what is not a startup packet with a
// reported error and without a session, and that when it starts a session
// the client gets the BackendKeyData of this backend.
func FuzzServeBackendStartup(f *testing.F) {
	startup := packet(pgproto3.ProtocolVersion30, startupBody("user", "postgres", "database", "postgres")...)
	query := frontendMsg('Q', []byte("select 1\x00"))
	terminate := frontendMsg('X', nil)
	seeds := [][]byte{
		nil,
		startup,
		append(append(append([]byte{}, startup...), query...), terminate...),
		append(packet(codeSSL), startup...),
		append(append(packet(codeGSS), packet(codeSSL)...), startup...),
		packet(codeCancel, appendBE32(appendBE32(nil, 4242), 0xdeadbeef)...),
		packet(codeCancel, make([]byte, 12)...),         // a protocol 3.2 cancel key of 8 bytes
		packet(codeCancel, 1, 2),                        // too short
		{0, 0},                                          // EOF inside the length
		appendBE32(nil, 0),                              // length 0
		appendBE32(nil, 7),                              // shorter than a code
		appendBE32(nil, 10009),                          // over the limit
		appendBE32(nil, 0xffffffff),                     // negative
		startup[:10],                                    // EOF inside the packet
		packet(0x00020000, startupBody("user", "u")...), // protocol 2.0
		packet(0x00030001, startupBody("user", "u")...), // protocol 3.1
		packet(pgproto3.ProtocolVersion32, startupBody("user", "u", "_pq_.x", "1")...), // 3.2 and an option
		packet(pgproto3.ProtocolVersion30, startupBody("database", "d")...),            // no user
		packet(pgproto3.ProtocolVersion30, []byte("user\x00u\x00")...),                 // no final NUL
		packet(pgproto3.ProtocolVersion30),                                             // no parameters at all
		append(append([]byte{}, startup...), 0xff, 0, 0, 0, 1),                         // garbage after the startup
		append(append([]byte{}, startup...), frontendMsg('P', []byte("s\x00select\x00\x00\x00"))...),
	}
	for _, s := range seeds {
		f.Add(s, false)
	}
	f.Add(startup, true)

	f.Fuzz(func(t *testing.T, in []byte, deadEnd bool) {
		const pid, key = 31337, int32(-559038737)
		var reports []fromChild
		var cancels [][2]int64
		hooks := backendHooks{
			report: func(m fromChild) error { reports = append(reports, m); return nil },
			cancel: func(p int, k []byte) error {
				if len(k) != 4 {
					t.Errorf("a %d-byte key reached the cancel hook of a release of 4-byte keys", len(k))
					return nil
				}
				cancels = append(cancels, [2]int64{int64(p), int64(int32(be32(k)))})
				return nil
			},
		}
		conn := &fuzzConn{in: bytes.NewReader(in)}
		vars := backendVars{Version: "16.4", CancelKey: key, ChildSlot: 1, DeadEnd: deadEnd}
		fl := flavorFor(walkthrough.Versions()[0])
		done := make(chan int, 1)
		go func() { done <- serveBackend(conn, vars, fl, pid, hooks) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("serveBackend did not return on %q", in)
		}
		if code != 0 && code != 1 {
			t.Errorf("exit code %d", code)
		}

		want, encReqs, cpid, ckey := expected(in, deadEnd)
		out := conn.out.Bytes()
		if !bytes.HasPrefix(out, bytes.Repeat([]byte{'N'}, encReqs)) {
			t.Fatalf("the %d encryption requests were not each answered 'N': %q", encReqs, out)
		}
		msgs, perr := serverMessages(out[encReqs:])
		var started *fromChild
		var errs int
		for i := range reports {
			switch reports[i].Type {
			case msgStartup:
				if started == nil {
					started = &reports[i]
				}
			case msgError:
				if started == nil {
					errs++
				}
			}
		}
		var auth, keyData *pgproto3.BackendKeyData
		for _, m := range msgs {
			switch m := m.(type) {
			case *pgproto3.AuthenticationOk:
				auth = &pgproto3.BackendKeyData{}
			case *pgproto3.BackendKeyData:
				keyData = m
			}
		}

		switch want {
		case rejected:
			if started != nil || auth != nil || keyData != nil || len(cancels) > 0 {
				t.Fatalf("input %q must be rejected, but a session started (reports %+v, sent %T)", in, reports, msgs)
			}
			if errs == 0 {
				t.Fatalf("input %q was rejected without a reported error (reports %+v)", in, reports)
			}
		case cancelled:
			if len(cancels) != 1 || cancels[0] != [2]int64{int64(cpid), int64(ckey)} {
				t.Fatalf("cancel request pid %d key %d forwarded as %v", cpid, ckey, cancels)
			}
			if len(out) != encReqs || started != nil {
				t.Fatalf("a cancel request got an answer %q or a session", out[encReqs:])
			}
		case sessionStarted:
			if started == nil || auth == nil || keyData == nil {
				t.Fatalf("input %q must start a session: reports %+v, sent %d messages (%v)", in, reports, len(msgs), perr)
			}
			if keyData.ProcessID != pid || len(keyData.SecretKey) != 4 || int32(be32(keyData.SecretKey)) != key {
				t.Fatalf("BackendKeyData pid %d key %x, want %d %d", keyData.ProcessID, keyData.SecretKey, pid, key)
			}
			if started.KeyPID != pid || started.Key != key {
				t.Fatalf("reported key %d/%d, want %d/%d", started.KeyPID, started.Key, pid, key)
			}
			if errs > 0 {
				t.Fatalf("a started session reported an error before: %+v", reports)
			}
		}
		if want != sessionStarted && started != nil {
			t.Fatalf("input %q started a session the oracle did not expect (%v)", in, want)
		}
	})
}

// serverMessages decodes what the backend sent after its answers to the
// encryption requests, up to the first message it cannot decode.
func serverMessages(out []byte) ([]pgproto3.BackendMessage, error) {
	fe := pgproto3.NewFrontend(bytes.NewReader(out), io.Discard)
	var msgs []pgproto3.BackendMessage
	for {
		m, err := fe.Receive()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return msgs, nil
			}
			return msgs, err
		}
		// Receive reuses its message values: keep copies of the two
		// the checks read.
		switch m := m.(type) {
		case *pgproto3.BackendKeyData:
			c := *m
			c.SecretKey = append([]byte(nil), m.SecretKey...)
			msgs = append(msgs, &c)
		case *pgproto3.AuthenticationOk:
			msgs = append(msgs, &pgproto3.AuthenticationOk{})
		default:
			msgs = append(msgs, m)
		}
	}
}

// TestStartupOracle pins the fuzz oracle's decisions on known inputs, so
// that a wrong oracle cannot make the fuzz target vacuous.
func TestStartupOracle(t *testing.T) {
	startup := packet(pgproto3.ProtocolVersion30, startupBody("user", "u")...)
	cases := []struct {
		name    string
		in      []byte
		deadEnd bool
		want    outcome
		enc     int
	}{
		{"startup", startup, false, sessionStarted, 0},
		{"SSL then startup", append(packet(codeSSL), startup...), false, sessionStarted, 1},
		{"GSS, SSL, startup", append(append(packet(codeGSS), packet(codeSSL)...), startup...), false, sessionStarted, 2},
		{"dead end", startup, true, rejected, 0},
		{"cancel", packet(codeCancel, 0, 0, 0, 7, 0, 0, 0, 9), false, cancelled, 0},
		{"empty", nil, false, rejected, 0},
		{"truncated", startup[:9], false, rejected, 0},
		{"protocol 2.0", packet(0x00020000, startupBody("user", "u")...), false, rejected, 0},
		{"protocol 3.1: negotiated, not refused", packet(0x00030001, startupBody("user", "u")...), false, sessionStarted, 0},
		{"protocol 3.9", packet(0x00030009, startupBody("user", "u")...), false, sessionStarted, 0},
		{"protocol 4.0", packet(0x00040000, startupBody("user", "u")...), false, rejected, 0},
		{"no terminator", packet(pgproto3.ProtocolVersion30, []byte("user\x00u\x00")...), false, rejected, 0},
		{"a name without a value", packet(pgproto3.ProtocolVersion30, []byte("user\x00u\x00x\x00\x00")...), false, rejected, 0},
		{"a last byte that is a name of its own", packet(pgproto3.ProtocolVersion30, []byte("user\x00u\x00a\x00\x00x")...), false, sessionStarted, 0},
		{"no user", packet(pgproto3.ProtocolVersion30, startupBody("database", "d")...), false, rejected, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, enc, _, _ := expected(tc.in, tc.deadEnd)
			if got != tc.want || enc != tc.enc {
				t.Errorf("got %v with %d encryption requests, want %v with %d", got, enc, tc.want, tc.enc)
			}
		})
	}
}
