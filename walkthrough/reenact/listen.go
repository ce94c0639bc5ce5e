package reenact

import (
	"net"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// tcpAddr returns the address the mini postmaster's TCP listen socket
// binds: DriverOptions.Listen (the loopback, 127.0.0.1, when empty) and
// DriverOptions.Port (0: the kernel picks a free port).
func (d *Driver) tcpAddr() (*net.TCPAddr, error) {
	ip := net.IPv4(127, 0, 0, 1)
	if d.opts.Listen != "" {
		if ip = net.ParseIP(d.opts.Listen); ip == nil {
			return nil, &net.AddrError{Err: "not an IP address", Addr: d.opts.Listen}
		}
	}
	return &net.TCPAddr{IP: ip, Port: d.opts.Port}, nil
}

// tcpHost returns the host a psql on this machine gives -h to reach the
// TCP listen socket: its address, or the loopback when it listens on every
// address.
func (d *Driver) tcpHost() string {
	if d.tcpLn == nil {
		return "127.0.0.1"
	}
	ip := d.tcpLn.Addr().(*net.TCPAddr).IP
	switch {
	case ip.IsUnspecified() && ip.To4() == nil:
		return "::1"
	case ip.IsUnspecified():
		return "127.0.0.1"
	}
	return ip.String()
}

// tcpListening returns the TCP listen socket's address and port, as the
// run's values say it: "127.0.0.1:5432", "[::1]:5432".
func (d *Driver) tcpListening() string {
	if d.tcpLn == nil {
		return ""
	}
	return d.tcpLn.Addr().String()
}

// arrived tells DriverOptions.Arrived who connected on nc, accepted on the
// listen socket via ("unix" or "tcp").
func (d *Driver) arrived(nc net.Conn, via string) {
	if d.opts.Arrived == nil {
		return
	}
	a := walkthrough.Arrival{Via: via, Addr: nc.RemoteAddr().String()}
	if via == "unix" {
		a.Addr, a.PID = d.sockPath, peerPID(nc)
	}
	d.opts.Arrived(a)
}
