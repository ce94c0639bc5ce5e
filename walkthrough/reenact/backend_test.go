package reenact

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// serve runs serveBackend on one end of a pipe and returns the other end,
// the reports it made and its exit code.
type served struct {
	fe      *pgproto3.Frontend
	client  net.Conn
	reports chan fromChild
	cancels chan cancelPacket
	code    chan int
}

func serve(t *testing.T, vars backendVars) *served {
	t.Helper()
	return serveWith(t, vars, nil)
}

// serveWith is serve with a pg_sleep hook.
func serveWith(t *testing.T, vars backendVars, sleep func(string, time.Duration) (bool, error)) *served {
	t.Helper()
	return serveRelease(t, "17.1", vars, sleep, nil)
}

// serveRelease is serveWith for release name, with a publish hook.
func serveRelease(t *testing.T, name string, vars backendVars, sleep func(string, time.Duration) (bool, error), publish func([]byte) error) *served {
	t.Helper()
	server, client := net.Pipe()
	// Nothing waits longer than safety: a backend that never answers
	// fails the test instead of hanging it.
	_ = server.SetDeadline(time.Now().Add(safety))
	_ = client.SetDeadline(time.Now().Add(safety))
	s := &served{
		fe: pgproto3.NewFrontend(client, client), client: client,
		reports: make(chan fromChild, 16), cancels: make(chan cancelPacket, 1), code: make(chan int, 1),
	}
	hooks := backendHooks{
		report:  func(m fromChild) error { s.reports <- m; return nil },
		cancel:  func(pid int, key []byte) error { s.cancels <- cancelPacket{PID: uint32(pid), Key: key}; return nil },
		sleep:   sleep,
		publish: publish,
	}
	fl := flavorFor(version(t, name))
	if fl.err != nil {
		t.Fatal(fl.err)
	}
	go func() {
		defer server.Close()
		s.code <- serveBackend(server, vars, fl, 4242, hooks)
	}()
	t.Cleanup(func() { client.Close() })
	return s
}

func (s *served) send(t *testing.T, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	for _, m := range msgs {
		s.fe.Send(m)
	}
	if err := s.fe.Flush(); err != nil {
		t.Fatal(err)
	}
}

// receive reads n messages and names them.
func (s *served) receive(t *testing.T, n int) ([]string, []pgproto3.BackendMessage) {
	t.Helper()
	var names []string
	var msgs []pgproto3.BackendMessage
	for range n {
		m, err := s.fe.Receive()
		if err != nil {
			t.Fatalf("receive after %v: %v", names, err)
		}
		names = append(names, messageName(m))
		// Receive reuses its messages: keep copies of the ones we check.
		switch m := m.(type) {
		case *pgproto3.BackendKeyData:
			c := *m
			msgs = append(msgs, &c)
		case *pgproto3.ErrorResponse:
			c := *m
			msgs = append(msgs, &c)
		case *pgproto3.NegotiateProtocolVersion:
			c := *m
			msgs = append(msgs, &c)
		default:
			msgs = append(msgs, m)
		}
	}
	return names, msgs
}

func startup(params map[string]string) *pgproto3.StartupMessage {
	return &pgproto3.StartupMessage{ProtocolVersion: protocol30, Parameters: params}
}

func TestServeBackendSession(t *testing.T) {
	s := serve(t, backendVars{CancelKey: -7})
	// psql over TCP asks for SSL first; the answer is a single 'N'.
	s.send(t, &pgproto3.SSLRequest{})
	b := make([]byte, 1)
	if _, err := s.client.Read(b); err != nil || b[0] != 'N' {
		t.Fatalf("SSLRequest answer = %q, %v; want N", b, err)
	}
	s.send(t, startup(map[string]string{"user": "alice", "database": "db", "application_name": "psql"}))
	names, msgs := s.receive(t, 17)
	want := []string{"AuthenticationOk"}
	for range 14 {
		want = append(want, "ParameterStatus")
	}
	want = append(want, "BackendKeyData", "ReadyForQuery(I)")
	if !slices.Equal(names, want) {
		t.Fatalf("startup answer = %v, want %v", names, want)
	}
	kd := msgs[15].(*pgproto3.BackendKeyData)
	if kd.ProcessID != 4242 || int32(binary.BigEndian.Uint32(kd.SecretKey)) != -7 {
		t.Errorf("BackendKeyData = pid %d key %x, want 4242 and -7", kd.ProcessID, kd.SecretKey)
	}
	if r := <-s.reports; r.Type != msgStartup || r.User != "alice" || r.Database != "db" || r.Key != -7 || r.KeyPID != 4242 {
		t.Errorf("startup report = %+v", r)
	}

	s.send(t, &pgproto3.Query{String: "select now()"})
	names, msgs = s.receive(t, 2)
	if !slices.Equal(names, []string{"ErrorResponse", "ReadyForQuery(I)"}) {
		t.Fatalf("query answer = %v", names)
	}
	if e := msgs[0].(*pgproto3.ErrorResponse); e.Severity != "ERROR" || e.Code != queryErrorCode || e.Message != queryErrorMessage {
		t.Errorf("query error = %+v", e)
	}
	if r := <-s.reports; r.Type != msgQuery || r.Text != "select now()" {
		t.Errorf("query report = %+v", r)
	}

	// Extended protocol: one error, then nothing until Sync.
	s.send(t, &pgproto3.Parse{Query: "select 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	names, _ = s.receive(t, 2)
	if !slices.Equal(names, []string{"ErrorResponse", "ReadyForQuery(I)"}) {
		t.Fatalf("extended query answer = %v", names)
	}

	s.send(t, &pgproto3.Terminate{})
	if code := <-s.code; code != 0 {
		t.Errorf("exit code after Terminate = %d, want 0", code)
	}
}

func TestServeBackendRefusals(t *testing.T) {
	tests := []struct {
		name     string
		vars     backendVars
		msg      pgproto3.FrontendMessage
		wantCode string
		wantExit int
	}{
		{"no user", backendVars{}, startup(map[string]string{"database": "x"}), "28000", 1},
		{"dead end", backendVars{DeadEnd: true}, startup(map[string]string{"user": "u"}), "53300", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, tt.vars)
			s.send(t, tt.msg)
			_, msgs := s.receive(t, 1)
			e, ok := msgs[0].(*pgproto3.ErrorResponse)
			if !ok || e.Severity != "FATAL" || e.Code != tt.wantCode {
				t.Fatalf("answer = %+v, want FATAL %s", msgs[0], tt.wantCode)
			}
			if code := <-s.code; code != tt.wantExit {
				t.Errorf("exit code = %d, want %d", code, tt.wantExit)
			}
		})
	}
}

func TestServeBackendNegotiatesProtocol(t *testing.T) {
	s := serve(t, backendVars{})
	s.send(t, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "u", "_pq_.future": "1"}})
	names, msgs := s.receive(t, 2)
	if names[0] != "NegotiateProtocolVersion" || names[1] != "AuthenticationOk" {
		t.Fatalf("answer starts %v, want NegotiateProtocolVersion, AuthenticationOk", names)
	}
	n := msgs[0].(*pgproto3.NegotiateProtocolVersion)
	if n.NewestMinorProtocol != protocol30 || !slices.Equal(n.UnrecognizedOptions, []string{"_pq_.future"}) {
		t.Errorf("NegotiateProtocolVersion = %+v", n)
	}
}

func TestServeBackendCancelRequest(t *testing.T) {
	s := serve(t, backendVars{})
	secret := make([]byte, 4)
	binary.BigEndian.PutUint32(secret, uint32(0x80000001))
	s.send(t, &pgproto3.CancelRequest{ProcessID: 99, SecretKey: secret})
	if got := <-s.cancels; got.PID != 99 || !bytes.Equal(got.Key, secret) {
		t.Errorf("forwarded cancel = %+v, want pid 99 key %x", got, secret)
	}
	if code := <-s.code; code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestServeBackendMalformedPacket(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"too short", []byte{0, 0, 0, 2}},
		{"too long", []byte{0, 0, 0x27, 0x19}},
		{"a cancel request with a 2-byte key", []byte{0, 0, 0, 14, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, backendVars{})
			go func() { _, _ = s.client.Write(tt.bytes) }()
			r := within(t, s.reports, "report of the malformed packet")
			if r.Type != msgError || r.Text == "" {
				t.Errorf("report = %+v, want an error", r)
			}
			// PostgreSQL exits with 0 after logging a bad startup packet.
			if code := within(t, s.code, "exit code of the backend"); code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
		})
	}
}

// TestServeBackendUnsupportedProtocol: a major version other than 3 is a
// FATAL error the client receives, naming the versions the release speaks.
func TestServeBackendUnsupportedProtocol(t *testing.T) {
	for _, tt := range []struct{ release, want string }{
		{"16.4", "unsupported frontend protocol 9.2313: server supports 3.0 to 3.0"},
		{"18.4", "unsupported frontend protocol 9.2313: server supports 3.0 to 3.2"},
	} {
		t.Run(tt.release, func(t *testing.T) {
			s := serveRelease(t, tt.release, backendVars{}, nil, nil)
			go func() { _, _ = s.client.Write([]byte{0, 0, 0, 8, 0, 9, 9, 9}) }()
			_, msgs := s.receive(t, 1)
			if e, ok := msgs[0].(*pgproto3.ErrorResponse); !ok || e.Severity != "FATAL" || e.Code != "0A000" || e.Message != tt.want {
				t.Errorf("answer = %+v, want FATAL 0A000 %q", msgs[0], tt.want)
			}
			if code := <-s.code; code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
		})
	}
}

// TestServeBackendPgSleep runs pg_sleep to the end and cancelled: the void
// row, or the error PostgreSQL sends for a statement cancelled by SIGINT.
func TestServeBackendPgSleep(t *testing.T) {
	tests := []struct {
		name      string
		cancelled bool
		names     []string
		result    string
	}{
		{"to the end", false, []string{"RowDescription", "DataRow", "CommandComplete", "ReadyForQuery(I)"}, "fact.reenact.query_slept"},
		{"cancelled", true, []string{"ErrorResponse", "ReadyForQuery(I)"}, "fact.reenact.query_cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []time.Duration
			s := serveWith(t, backendVars{}, func(q string, d time.Duration) (bool, error) {
				slept = append(slept, d)
				return tt.cancelled, nil
			})
			s.send(t, startup(map[string]string{"user": "u"}))
			s.receive(t, 17)
			<-s.reports // startup
			s.send(t, &pgproto3.Query{String: "SELECT pg_sleep(2.5);"})
			names, msgs := s.receive(t, len(tt.names))
			if !slices.Equal(names, tt.names) {
				t.Fatalf("answer = %v, want %v", names, tt.names)
			}
			if tt.cancelled {
				if e := msgs[0].(*pgproto3.ErrorResponse); e.Severity != "ERROR" || e.Code != "57014" || e.Message != "canceling statement due to user request" {
					t.Errorf("error = %+v", e)
				}
			} else if row := msgs[1].(*pgproto3.DataRow); len(row.Values) != 1 || row.Values[0] == nil || len(row.Values[0]) != 0 {
				t.Errorf("row = %q, want one empty (void, not NULL) value", row.Values)
			}
			if r := <-s.reports; r.Type != msgQuery || r.Text != "SELECT pg_sleep(2.5);" || len(r.Facts) != 1 ||
				r.Facts[0].Key != tt.result || r.Facts[0].Args["query"] != `"SELECT pg_sleep(2.5);"` {
				t.Errorf("report = %+v", r)
			}
			if !slices.Equal(slept, []time.Duration{2500 * time.Millisecond}) {
				t.Errorf("slept %v, want 2.5s once", slept)
			}
		})
	}
}
