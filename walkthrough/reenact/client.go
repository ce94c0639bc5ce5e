package reenact

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// clientQuery is the query pgwalk's own client sends to show the backend's
// answer.
const clientQuery = "SELECT 1"

// clientResult is what pgwalk's own client saw.
type clientResult struct {
	// Received names the messages the client read, in order.
	Received []string
	// Key is the BackendKeyData message, when one came.
	Key *walkthrough.BackendKey
	// Requested is the protocol version the client asked for, and
	// Negotiated the one a NegotiateProtocolVersion named ("" when none
	// came), with the options it did not know.
	Requested  string
	Negotiated string
	Options    []string
	// ServerVersion is the server_version ParameterStatus.
	ServerVersion string
	// StartupError is an ErrorResponse received instead of a session
	// (the fork-failure branch).
	StartupError string
	// QueryError is the backend's answer to clientQuery.
	QueryError string
	// Err is what went wrong on the client's side, if anything.
	Err error
}

// ownClient is pgwalk's own client: one connection over the Unix socket.
type ownClient struct {
	conn net.Conn
	done chan struct{}
	res  clientResult
}

// clientProtocol is the protocol version pgwalk's own client asks for:
// 3.2, whose cancel keys are 32 bytes long where the server makes them so
// (PostgreSQL 18); a server that speaks only 3.0 answers with
// NegotiateProtocolVersion and the session goes on at 3.0.
const clientProtocol = pgproto3.ProtocolVersion32

// runClient speaks the client side of a session over conn: StartupMessage,
// everything up to ReadyForQuery, one query, Terminate.
func runClient(conn net.Conn) clientResult {
	res := clientResult{Requested: walkthrough.ProtocolName(clientProtocol)}
	br := bufio.NewReader(conn)
	fe := pgproto3.NewFrontend(br, conn)
	fe.Send(&pgproto3.StartupMessage{
		ProtocolVersion: clientProtocol,
		Parameters: map[string]string{
			"user":             "postgres",
			"database":         "postgres",
			"application_name": "pgwalk",
		},
	})
	sendErr := fe.Flush()
	// Even when the send failed (the server may already have answered and
	// closed, as after a failed fork), read what the server sent, as libpq
	// does.
	if text, ok := readOldError(br); ok {
		res.Received = append(res.Received, "V2ErrorMessage")
		res.StartupError = text
		return res
	}
	done, err := readUntilReady(fe, &res)
	if sendErr != nil && res.StartupError == "" {
		res.Err = fmt.Errorf("client: send StartupMessage: %w", sendErr)
		return res
	}
	if err != nil || done {
		res.Err = err
		return res
	}

	fe.Send(&pgproto3.Query{String: clientQuery})
	if err := fe.Flush(); err != nil {
		res.Err = fmt.Errorf("client: send Query: %w", err)
		return res
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			res.Err = fmt.Errorf("client: read query answer: %w", err)
			return res
		}
		res.Received = append(res.Received, messageName(msg))
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			res.QueryError = fmt.Sprintf("%s %s: %s", e.Severity, e.Code, e.Message)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	fe.Send(&pgproto3.Terminate{})
	if err := fe.Flush(); err != nil {
		res.Err = fmt.Errorf("client: send Terminate: %w", err)
	}
	return res
}

// readUntilReady reads the startup answer. It returns done=true when the
// server answered with an error instead of a session.
func readUntilReady(fe *pgproto3.Frontend, res *clientResult) (done bool, err error) {
	for {
		msg, err := fe.Receive()
		if err != nil {
			if res.StartupError != "" && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isReset(err)) {
				return true, nil
			}
			return true, fmt.Errorf("client: read startup answer: %w", err)
		}
		res.Received = append(res.Received, messageName(msg))
		switch m := msg.(type) {
		case *pgproto3.NegotiateProtocolVersion:
			res.Negotiated = walkthrough.ProtocolName(m.NewestMinorProtocol)
			res.Options = append([]string(nil), m.UnrecognizedOptions...)
		case *pgproto3.BackendKeyData:
			// A key of any length: 4 bytes at protocol 3.0, up to 256
			// from 3.2 on (PostgreSQL 18 makes 32).
			if len(m.SecretKey) == 0 || len(m.SecretKey) > maxKeyBytes {
				return true, fmt.Errorf("client: BackendKeyData with a %d-byte key", len(m.SecretKey))
			}
			res.Key = backendKey(int(m.ProcessID), m.SecretKey)
		case *pgproto3.ParameterStatus:
			if m.Name == "server_version" {
				res.ServerVersion = m.Value
			}
		case *pgproto3.ErrorResponse:
			res.StartupError = fmt.Sprintf("%s: %s", m.Severity, m.Message)
			// The server closes the connection after this message.
			return true, nil
		case *pgproto3.ReadyForQuery:
			return false, nil
		}
	}
}

// maxErrLen bounds the length word of a protocol 3 error message: an 'E'
// whose next four bytes, read as a length, are not between 8 and this are
// an error message of the protocol before 3.0, which has no length word.
const maxErrLen = 30000

// readOldError reads the error message of the protocol before 3.0 that a
// postmaster sends when it could not launch a backend
// (report_fork_failure_to_client): 'E', the text and a NUL. It returns
// the text without its newline, and false, reading nothing, when the
// server's first message is something else.
func readOldError(br *bufio.Reader) (string, bool) {
	head, err := br.Peek(5)
	if err != nil || head[0] != 'E' {
		return "", false
	}
	if n := binary.BigEndian.Uint32(head[1:]); n >= 8 && n <= maxErrLen {
		return "", false
	}
	_, _ = br.ReadByte()
	text, _ := br.ReadString(0)
	return strings.TrimRight(strings.TrimSuffix(text, "\x00"), "\n"), true
}

// backendKey returns the BackendKeyData of pid and key as the vocabulary
// has it: the key in hex, and as an int32 too when it has 4 bytes.
func backendKey(pid int, key []byte) *walkthrough.BackendKey {
	k := &walkthrough.BackendKey{PID: pid, SecretKeyHex: hex.EncodeToString(key)}
	if len(key) == 4 {
		k.SecretKey = int32(binary.BigEndian.Uint32(key))
	}
	return k
}

// isReset reports whether err is a connection reset, which is how a Unix
// socket reports a peer that closed with unread data.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// messageName names a backend message for the closing check.
func messageName(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.ReadyForQuery:
		return fmt.Sprintf("ReadyForQuery(%c)", m.TxStatus)
	case *pgproto3.ParameterStatus:
		return "ParameterStatus"
	default:
		name := fmt.Sprintf("%T", msg)
		return strings.TrimPrefix(name, "*pgproto3.")
	}
}

// summarize collapses runs of one message name: "ParameterStatus x14".
func summarize(names []string) string {
	var out []string
	for i := 0; i < len(names); {
		j := i
		for j < len(names) && names[j] == names[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s x%d", names[i], j-i))
		} else {
			out = append(out, names[i])
		}
		i = j
	}
	return strings.Join(out, ", ")
}
