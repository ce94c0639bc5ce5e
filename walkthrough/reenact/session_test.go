//go:build unix

package reenact

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func timeAfter() <-chan time.Time { return time.After(safety) }

func dialUnix(t testing.TB, d *Driver) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", d.sockPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// session is a test client that keeps its connection open.
type session struct {
	nc  net.Conn
	fe  *pgproto3.Frontend
	key walkthrough.BackendKey
	// raw is the key of BackendKeyData as it came, of any length, and
	// negotiated the version a NegotiateProtocolVersion named ("" when
	// none came).
	raw        []byte
	negotiated string
}

// openSession sends a protocol 3.0 StartupMessage on nc; ready reads the
// answer.
func openSession(t testing.TB, nc net.Conn) *session {
	t.Helper()
	return openSessionAt(t, nc, protocol30)
}

// openSessionAt is openSession asking for protocol proto.
func openSessionAt(t testing.TB, nc net.Conn, proto uint32) *session {
	t.Helper()
	s := &session{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	s.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: proto, Parameters: map[string]string{"user": "student", "database": "class"}})
	if err := s.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *session) ready(t testing.TB) {
	t.Helper()
	if err := s.nc.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := s.fe.Receive()
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.NegotiateProtocolVersion:
			s.negotiated = walkthrough.ProtocolName(m.NewestMinorProtocol)
		case *pgproto3.BackendKeyData:
			s.raw = append([]byte(nil), m.SecretKey...)
			s.key = *backendKey(int(m.ProcessID), m.SecretKey)
		case *pgproto3.ErrorResponse:
			t.Fatalf("session: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			return
		}
	}
}

func (s *session) terminate(t testing.TB) {
	t.Helper()
	s.fe.Send(&pgproto3.Terminate{})
	if err := s.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	s.nc.Close()
}

// sendCancel sends a CancelRequest with a 4-byte key on nc and waits until
// the server closes the connection, as PostgreSQL answers a cancel request
// with nothing.
func sendCancel(t testing.TB, nc net.Conn, pid int, key int32) {
	t.Helper()
	secret := make([]byte, 4)
	binary.BigEndian.PutUint32(secret, uint32(key))
	sendCancelKey(t, nc, pid, secret)
}

// sendCancelKey is sendCancel with a key of any length.
func sendCancelKey(t testing.TB, nc net.Conn, pid int, secret []byte) {
	t.Helper()
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.CancelRequest{ProcessID: uint32(pid), SecretKey: secret})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, nc)
	if err != nil || n != 0 {
		t.Errorf("after a CancelRequest the server sent %d bytes (%v), want nothing", n, err)
	}
}

// TestClientReadsErrorAfterFailedSend: when the server answered and closed
// before the client sent its StartupMessage (a fast fork failure), the
// client still reports the server's error.
func TestClientReadsErrorAfterFailedSend(t *testing.T) {
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		be := pgproto3.NewBackend(nc, nc)
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Message: "could not fork new process for connection: boom"})
		_ = be.Flush()
		nc.Close()
	}()
	nc, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	within(t, closed, "end of the fake postmaster's connection")
	res := runClient(nc)
	if res.Err != nil || res.StartupError != "FATAL: could not fork new process for connection: boom" {
		t.Errorf("client result = %+v, want the server's error and no client error", res)
	}
}

// query sends one simple Query and does not wait for the answer.
func (s *session) query(t testing.TB, q string) {
	t.Helper()
	s.fe.Send(&pgproto3.Query{String: q})
	if err := s.fe.Flush(); err != nil {
		t.Fatal(err)
	}
}

// answer reads up to ReadyForQuery and returns the names of the messages
// and the SQLSTATE of each ErrorResponse.
func (s *session) answer(t testing.TB) (names, codes []string) {
	t.Helper()
	if err := s.nc.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := s.fe.Receive()
		if err != nil {
			t.Fatalf("session: reading the answer after %v: %v", names, err)
		}
		names = append(names, messageName(msg))
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			codes = append(codes, m.Code+" "+m.Message)
		case *pgproto3.ReadyForQuery:
			return names, codes
		}
	}
}

// refused reads the answer to the startup packet of a connection that
// must be refused and returns the FATAL error's SQLSTATE and message.
func (s *session) refused(t testing.TB) string {
	t.Helper()
	if err := s.nc.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := s.fe.Receive()
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return m.Code + " " + m.Message
		case *pgproto3.ReadyForQuery:
			t.Fatal("session: the connection was accepted, want a refusal")
		}
	}
}
