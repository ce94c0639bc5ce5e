package live

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// This file tells pgwalk's own connection from others: its client binds
// its socket to an abstract address of its own (client.go), and the
// postmaster's accept() records the peer's address in the record the
// accept function fills (facts.client_socket), where the driver reads it.

// sockAddrSize is sizeof(SockAddr) on LP64: a sockaddr_storage of 128
// bytes, then a socklen_t, padded to 8 bytes.
const (
	sockAddrSize = 136
	sockAddrLen  = 128 // offset of salen
)

// ours reports whether the connection the accept function accepted into
// the record at rec is pgwalk's own client's. It is true when the driver
// waits for outside clients, and when the peer cannot be read (the driver
// says so once, and walks the connection).
func (w *walker) ours(rec uint64) bool {
	if w.opts.WaitForClient || w.client == nil {
		return true
	}
	peer, err := w.peerOf(rec)
	if err != nil {
		if !w.peerUnknown {
			w.peerUnknown = true
			w.tell("say.live.peer_unknown", "error", err)
		}
		return true
	}
	return peer == w.client.local
}

// peerOf reads the client's address in the record at rec that the accept
// function filled, where the manifest's client_socket layout puts its
// socket and its raddr. The socket must be a socket of the postmaster and
// the address a Unix one, or the layout is not what the driver thinks.
func (w *walker) peerOf(rec uint64) (string, error) {
	pid := w.pm.PID
	sock, err := w.t.ReadI32(w.pm, rec+uint64(w.tab.socket.Sock))
	if err != nil {
		return "", err
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, sock))
	if err != nil || !strings.HasPrefix(link, "socket:[") {
		return "", fmt.Errorf("the record at %#x names fd %d, not a socket of the postmaster", rec, sock)
	}
	raw := make([]byte, sockAddrSize)
	if err := w.t.ReadMem(w.pm, rec+uint64(w.tab.socket.RAddr), raw); err != nil {
		return "", err
	}
	return decodeUnixAddr(raw)
}

// decodeUnixAddr returns the path of the SockAddr raw holds, "@name" for
// an abstract address (sun_path starting with a NUL byte, unix(7)).
func decodeUnixAddr(raw []byte) (string, error) {
	family := binary.LittleEndian.Uint16(raw)
	salen := int(binary.LittleEndian.Uint32(raw[sockAddrLen:]))
	const pathOff, pathMax = 2, 108 // sockaddr_un: sun_family, sun_path[108]
	if family != unix.AF_UNIX || salen < pathOff || salen > pathOff+pathMax {
		return "", fmt.Errorf("not a Unix socket address (family %d, length %d)", family, salen)
	}
	path := raw[pathOff:salen]
	if len(path) > 0 && path[0] == 0 {
		return "@" + string(path[1:]), nil
	}
	if i := strings.IndexByte(string(path), 0); i >= 0 {
		path = path[:i]
	}
	return string(path), nil
}
