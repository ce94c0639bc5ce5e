package reenact

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// protocol30 is protocol version 3.0, the only one PostgreSQL 16 and 17
// speak and the one psql 15 asks for.
const protocol30 = pgproto3.ProtocolVersion30

// backendHooks connect the wire-protocol side of a backend to its
// postmaster.
type backendHooks struct {
	// report sends a message to the postmaster.
	report func(fromChild) error
	// cancel handles a CancelRequest read from the client: it checks the
	// pid and key where the release checks them (the child's copy of the
	// postmaster's list, or the keys the backends published), signals the
	// backend on a match and reports what it did.
	cancel func(pid int, key []byte) error
	// publish puts the key the backend made where a cancel connection's
	// child will look for it; nil when there is no such place.
	publish func(key []byte) error
	// sleep runs pg_sleep for query: it waits d, or less when a SIGINT
	// cancels the statement (cancelled is then true) or the backend must
	// end (err). When sleep is nil the statement completes at once.
	sleep func(query string, d time.Duration) (cancelled bool, err error)
}

// The error the backend sends for every query but pg_sleep.
const (
	queryErrorCode    = "0A000" // feature_not_supported
	queryErrorMessage = "this backend only re-enacts BackendStartup: it cannot run queries"
)

// serveBackend does what a backend does from BackendInitialize on: it reads
// the startup packet as ProcessStartupPacket does (answering 'N' to SSL and
// GSS encryption requests, handing a CancelRequest to the cancel hook,
// answering a newer minor protocol version or unknown protocol options with
// NegotiateProtocolVersion), refuses the client if it is a dead end, makes
// its cancel key if the release has the backend make it, authenticates
// everyone, reports parameters, sends BackendKeyData(pid, key) and
// ReadyForQuery, then runs "SELECT pg_sleep(n)" (cancellable by a cancel
// request) and answers every other query with an error until the client
// sends Terminate or goes away. It returns the process's exit code.
func serveBackend(conn net.Conn, vars backendVars, fl flavor, pid int, h backendHooks) int {
	w := fl.wire
	var pkt []byte
	for {
		code, p, err := readStartupPacket(conn)
		if err != nil {
			// PostgreSQL logs a malformed startup packet as COMMERROR
			// (server log only, nothing to the client) and the backend
			// exits with status 0; a client that sent nothing is not
			// even logged.
			_ = h.report(fromChild{Type: msgError, Text: startupErrorText(err)})
			return 0
		}
		switch code {
		case reqSSL, reqGSS:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				_ = h.report(fromChild{Type: msgError, Text: "answer encryption request: " + err.Error()})
				return 0
			}
			continue
		case reqCancel:
			cp, err := parseCancel(p, w)
			if err != nil {
				_ = h.report(fromChild{Type: msgError, Text: startupErrorText(err)})
				return 0
			}
			if err := h.cancel(int(cp.PID), cp.Key); err != nil {
				_ = h.report(fromChild{Type: msgError, Text: "forward cancel request: " + err.Error()})
			}
			// Nothing is sent back to the client.
			return 0
		}
		pkt = p
		break
	}

	be := pgproto3.NewBackend(conn, conn)
	sp, err := parseStartup(pkt, w)
	if err != nil {
		var se *startupError
		if errors.As(err, &se) && se.Code != "" {
			return fatal(be, h, se.Code, se.Message)
		}
		_ = h.report(fromChild{Type: msgError, Text: err.Error()})
		return 0
	}

	var sent []string
	version := sp.Proto
	if v, ok := negotiate(sp, w); ok {
		version = v
		be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: v, UnrecognizedOptions: sp.Unrecognized})
		sent = append(sent, "NegotiateProtocolVersion("+walkthrough.ProtocolName(v)+")")
	}
	user := sp.get("user")
	if user == "" {
		return fatal(be, h, "28000", "no PostgreSQL user name specified in startup packet")
	}
	db := sp.get("database")
	if db == "" {
		db = user
	}
	if vars.DeadEnd {
		return fatal(be, h, "53300", tooManyClients)
	}

	// The key: the postmaster's, inherited with the backend variables,
	// or one this backend makes now, as PostgresMain does before
	// InitPostgres, as long as the client's requested protocol says.
	secret := make([]byte, 4)
	binary.BigEndian.PutUint32(secret, uint32(vars.CancelKey))
	made := false
	if n := w.keyBytes(sp.Proto); n > 0 {
		secret = make([]byte, n)
		if _, err := rand.Read(secret); err != nil {
			return fatal(be, h, "XX000", "could not generate random cancel key")
		}
		made = true
		if h.publish != nil {
			if err := h.publish(secret); err != nil {
				_ = h.report(fromChild{Type: msgError, Text: "publish the cancel key: " + err.Error()})
				return 1
			}
		}
	}

	be.Send(&pgproto3.AuthenticationOk{})
	sent = append(sent, "AuthenticationOk")
	params := parameterStatus(fl, sp)
	for _, p := range params {
		be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	sent = append(sent, fmt.Sprintf("ParameterStatus x%d", len(params)))
	be.Send(&pgproto3.BackendKeyData{ProcessID: uint32(pid), SecretKey: secret})
	sent = append(sent, "BackendKeyData")
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	sent = append(sent, "ReadyForQuery(I)")
	if err := be.Flush(); err != nil {
		_ = h.report(fromChild{Type: msgError, Text: "send startup response: " + err.Error()})
		return 1
	}
	rep := fromChild{
		Type: msgStartup, User: user, Database: db,
		Application: sp.get("application_name"),
		Protocol:    walkthrough.ProtocolName(sp.Proto),
		Negotiated:  walkthrough.ProtocolName(version),
		Options:     sp.Unrecognized,
		Sent:        sent, KeyPID: pid, KeyHex: hex.EncodeToString(secret), KeyMade: made,
	}
	if len(secret) == 4 {
		rep.Key = int32(binary.BigEndian.Uint32(secret))
	}
	_ = h.report(rep)

	return commandLoop(be, h)
}

// startupErrorText is what a rejected startup packet is reported as.
func startupErrorText(err error) string {
	var se *startupError
	if errors.As(err, &se) {
		return "invalid startup packet: " + se.Message
	}
	return err.Error()
}

// commandLoop answers the client's messages until Terminate or EOF.
func commandLoop(be *pgproto3.Backend, h backendHooks) int {
	// After an error in the extended protocol the backend skips messages
	// until Sync, as PostgreSQL does.
	skipping := false
	for {
		msg, err := be.Receive()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
				return 0
			}
			_ = h.report(fromChild{Type: msgError, Text: "read from client: " + err.Error()})
			return 1
		}
		switch m := msg.(type) {
		case *pgproto3.Terminate:
			return 0
		case *pgproto3.Query:
			if d, ok := parsePgSleep(m.String); ok {
				if code, end := runSleep(be, h, m.String, d); end {
					return code
				}
				break
			}
			_ = h.report(fromChild{Type: msgQuery, Text: m.String})
			be.Send(queryError())
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.FunctionCall:
			be.Send(queryError())
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
			if !skipping {
				if p, ok := m.(*pgproto3.Parse); ok {
					_ = h.report(fromChild{Type: msgQuery, Text: p.Query})
				}
				be.Send(queryError())
				skipping = true
			}
		case *pgproto3.Sync:
			skipping = false
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.Flush:
		default:
			// Copy messages outside COPY are ignored, as PostgreSQL does.
		}
		if err := be.Flush(); err != nil {
			_ = h.report(fromChild{Type: msgError, Text: "write to client: " + err.Error()})
			return 1
		}
	}
}

// runSleep runs "SELECT pg_sleep(...)" for query and queues its answer: the
// void row and "SELECT 1" when the sleep ran out, the error PostgreSQL sends
// for a statement cancelled by SIGINT when a cancel request came first.
// end is true when the backend must end, with exit code code.
func runSleep(be *pgproto3.Backend, h backendHooks, query string, d time.Duration) (code int, end bool) {
	cancelled := false
	if h.sleep != nil {
		var err error
		if cancelled, err = h.sleep(query, d); err != nil {
			_ = h.report(fromChild{Type: msgError, Text: err.Error()})
			return 1, true
		}
	}
	if cancelled {
		be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: queryCanceledCode, Message: queryCanceledMessage})
		_ = h.report(fromChild{Type: msgQuery, Text: query,
			Facts: []walkthrough.Fact{fact("fact.reenact.query_cancelled", "query", strconv.Quote(query),
				"code", queryCanceledCode, "message", strconv.Quote(queryCanceledMessage))},
			Log: "ERROR:  " + queryCanceledMessage})
	} else {
		be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{
			Name: []byte("pg_sleep"), DataTypeOID: voidOID, DataTypeSize: 4, TypeModifier: -1,
		}}})
		be.Send(&pgproto3.DataRow{Values: [][]byte{{}}})
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		_ = h.report(fromChild{Type: msgQuery, Text: query,
			Facts: []walkthrough.Fact{fact("fact.reenact.query_slept", "query", strconv.Quote(query))}})
	}
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return 0, false
}

// fatal sends a FATAL ErrorResponse, reports it and returns exit code 1.
func fatal(be *pgproto3.Backend, h backendHooks, code, message string) int {
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message})
	_ = be.Flush()
	_ = h.report(fromChild{Type: msgError, Text: "FATAL: " + message})
	return 1
}

func queryError() *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            "ERROR",
		SeverityUnlocalized: "ERROR",
		Code:                queryErrorCode,
		Message:             queryErrorMessage,
		Detail:              "pgwalk started this process the way PostgreSQL starts a backend, to show the startup phases; there is no database behind it.",
		Hint:                "End the session (\\q in psql); pgwalk then shows the closing check.",
	}
}

// parameterStatus returns the ParameterStatus messages a backend sends
// after authentication, sorted by name.
func parameterStatus(fl flavor, startup startupParams) [][2]string {
	user := startup.get("user")
	enc := startup.get("client_encoding")
	if enc == "" || strings.EqualFold(enc, "auto") {
		enc = "UTF8"
	}
	return [][2]string{
		{"application_name", startup.get("application_name")},
		{"client_encoding", enc},
		{"DateStyle", "ISO, MDY"},
		{"default_transaction_read_only", "off"},
		{"in_hot_standby", "off"},
		{"integer_datetimes", "on"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", "off"},
		{"scram_iterations", "4096"},
		{"server_encoding", "UTF8"},
		{"server_version", fl.serverVersion()},
		{"session_authorization", user},
		{"standard_conforming_strings", "on"},
		{"TimeZone", "UTC"},
	}
}
