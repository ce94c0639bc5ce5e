package live

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// client is pgwalk's own connection to the traced server. It connects in
// its own goroutine, because the connection completes only after the
// traced processes ran through every stop.
type client struct {
	done   chan struct{}
	cancel context.CancelFunc
	// local is the abstract Unix address ("@pgwalk-...", unix(7)) the
	// client binds its socket to, so that the driver can tell its
	// connection from any other by the peer address the server accepted.
	local string
	// Set before done is closed:
	conn *pgconn.PgConn
	err  error
	key  *walkthrough.BackendKey
}

// connString returns the libpq connection string for the cluster's
// socket, with every value given so that no PG* variable of the user's
// environment changes it.
func connString(socketDir string, port int) string {
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable application_name=pgwalk",
		quote(socketDir), port)
}

// startClient connects to the server in the background.
func startClient(socketDir string, port int) *client {
	ctx, cancel := context.WithCancel(context.Background())
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	c := &client{done: make(chan struct{}), cancel: cancel, local: fmt.Sprintf("@pgwalk-%d-%x", os.Getpid(), nonce)}
	go func() {
		defer close(c.done)
		cfg, err := pgconn.ParseConfig(connString(socketDir, port))
		if err != nil {
			c.err = err
			return
		}
		cfg.Fallbacks = nil
		// Ask for the newest protocol pgconn speaks (3.2): a server that
		// has it sends a key of 32 bytes where the release makes one; an
		// older server answers NegotiateProtocolVersion and the
		// connection goes on at 3.0, with a key of 4 bytes.
		cfg.MaxProtocolVersion = "latest"
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			if network == "unix" {
				d.LocalAddr = &net.UnixAddr{Name: c.local, Net: "unix"}
			}
			return d.DialContext(ctx, network, addr)
		}
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			c.err = fmt.Errorf("pgwalk's client: %w", err)
			return
		}
		c.conn = conn
		c.key = backendKey(conn)
	}()
	return c
}

// backendKey returns the BackendKeyData the server sent on conn: the key
// of any length in hex, and as an int32 when it has 4 bytes.
func backendKey(conn *pgconn.PgConn) *walkthrough.BackendKey {
	sk := conn.SecretKey()
	k := &walkthrough.BackendKey{PID: int(conn.PID()), SecretKeyHex: hex.EncodeToString(sk)}
	if len(sk) == 4 {
		k.SecretKey = int32(binary.BigEndian.Uint32(sk))
	}
	return k
}

// close ends the connection, or abandons the attempt.
func (c *client) close() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
	}
}
