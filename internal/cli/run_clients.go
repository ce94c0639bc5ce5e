package cli

import (
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// clients is what a run that waits for clients (--wait-for-client) knows
// of them: who connected, and which connections the user has seen.
type clients struct {
	mu sync.Mutex
	// arrived holds every client the driver accepted, in order;
	// announced is how many of them have had their banner.
	arrived   []walkthrough.Arrival
	announced int
	// seen holds the connections (Event.Connection) whose stops were on
	// screen.
	seen map[int]bool
}

// onArrival is DriverOptions.Arrived: it records a client the driver
// accepted and tells the loop, or, off a terminal, says it on ErrOut. It
// runs on the driver's goroutine and does not block.
func (w *walk) onArrival(a walkthrough.Arrival) {
	w.clients.mu.Lock()
	w.clients.arrived = append(w.clients.arrived, a)
	w.clients.mu.Unlock()
	if !w.interactive {
		for _, line := range w.newArrivals() {
			w.say(line)
		}
		return
	}
	select {
	case w.arrivedCh <- struct{}{}:
	default: // the loop has yet to look: it will see this one too
	}
}

// newArrivals returns the banners of the clients that connected since the
// last call: who connected, and from where.
func (w *walk) newArrivals() []string {
	w.clients.mu.Lock()
	defer w.clients.mu.Unlock()
	var out []string
	for _, a := range w.clients.arrived[w.clients.announced:] {
		out = append(out, arrivalBanner(w.opts.Lang, a))
	}
	w.clients.announced = len(w.clients.arrived)
	return out
}

// arrivalBanner says in lang who connected and from where.
func arrivalBanner(lang string, a walkthrough.Arrival) string {
	if a.Via == "tcp" {
		return catalog.S(lang, "run.arrived_tcp", "addr", a.Addr)
	}
	if a.PID <= 0 {
		return catalog.S(lang, "run.arrived_unix", "addr", a.Addr)
	}
	program, user := clientProcess(a.PID)
	if program == "" {
		program = "?"
	}
	if user == "" {
		user = "?"
	}
	return catalog.S(lang, "run.arrived_unix_process", "addr", a.Addr, "pid", a.PID, "program", program, "user", user)
}

// markSeen records that a stop of connection conn is on screen.
func (w *walk) markSeen(conn int) {
	w.clients.mu.Lock()
	defer w.clients.mu.Unlock()
	if w.clients.seen == nil {
		w.clients.seen = map[int]bool{}
	}
	w.clients.seen[conn] = true
}

// waiting returns how many clients connected whose walk the user has not
// seen yet: each one's psql waits for the walk to go on.
func (w *walk) waiting() int {
	if !w.opts.WaitFor {
		return 0
	}
	w.clients.mu.Lock()
	defer w.clients.mu.Unlock()
	return max(len(w.clients.arrived)-len(w.clients.seen), 0)
}

// alert returns what the footer must say whatever else it drops: a client
// waits for the walk to go on (G goes to it when its first stop is here
// already, n walks on to it otherwise), or pgwalk waits for the driver,
// which in a run that waits for clients means for a client.
func (w *walk) alert(st walkthrough.State, keysLive bool) string {
	lang := w.opts.Lang
	if n := w.waiting(); n > 0 {
		if last := len(w.built) - 1; last >= 0 && st.Reviewing() && !w.seenConn(w.built[last].Event.Connection) {
			return catalog.S(lang, "footer.clients_waiting_last", "n", n)
		}
		return catalog.S(lang, "footer.clients_waiting", "n", n)
	}
	if w.opts.WaitFor && (len(st.Stops) == 0 || (st.Waiting() && keysLive)) {
		return catalog.S(lang, "footer.waiting_client")
	}
	return ""
}

// seenConn reports whether a stop of connection conn was on screen.
func (w *walk) seenConn(conn int) bool {
	w.clients.mu.Lock()
	defer w.clients.mu.Unlock()
	return w.clients.seen[conn]
}

// psqlCommander is a driver that says how psql connects to it.
type psqlCommander interface {
	PsqlCommands() []string
}

// connectInfo returns what the connect box says: the psql command lines
// the driver gives, where pgwalk listens, and how many clients came.
func (w *walk) connectInfo(overlay bool) render.Connect {
	lang := w.opts.Lang
	c := render.Connect{Title: catalog.S(lang, "connect.title")}
	if p, ok := w.drv.(psqlCommander); ok {
		c.Commands = p.PsqlCommands()
	}
	if len(c.Commands) == 0 {
		c.Notes = append(c.Notes, catalog.S(lang, "connect.not_listed", "driver", w.opts.Driver))
	} else {
		c.Notes = append(c.Notes, catalog.S(lang, "connect.private_dir"))
	}
	addr := listenAddr(w.opts.Listen)
	switch ip := net.ParseIP(addr); {
	case !w.caps.Listen:
		// The driver's server listens where it listens.
	case ip != nil && ip.IsUnspecified():
		c.Notes = append(c.Notes, catalog.S(lang, "connect.open_any", "addr", addr, "addrs", strings.Join(hostAddrs(), ", ")))
	case ip != nil && !ip.IsLoopback():
		c.Notes = append(c.Notes, catalog.S(lang, "connect.open", "addr", addr))
	default:
		c.Notes = append(c.Notes, catalog.S(lang, "connect.loopback", "addr", addr))
	}
	w.clients.mu.Lock()
	n := len(w.clients.arrived)
	w.clients.mu.Unlock()
	if n > 0 {
		c.Notes = append(c.Notes, catalog.S(lang, "connect.count", "n", n))
	}
	if overlay {
		c.Notes = append(c.Notes, catalog.S(lang, "connect.close"))
	}
	return c
}

// listenAddr returns the address --listen asks for: the loopback when
// none.
func listenAddr(listen string) string {
	if listen == "" {
		return "127.0.0.1"
	}
	return listen
}

// listenWarning returns, in lang, the one warning of a run that listens
// beyond this machine (--listen with an address that is not a loopback
// one), or "".
func listenWarning(listen string, port int, lang string) string {
	ip := net.ParseIP(listenAddr(listen))
	if ip == nil || ip.IsLoopback() {
		return ""
	}
	where := ip.String()
	if port > 0 {
		where = net.JoinHostPort(where, strconv.Itoa(port))
	}
	return catalog.S(lang, "run.listen_open", "addr", where)
}

// hostAddrs returns this machine's addresses that other machines may reach
// (up to four, not the loopback ones), for the students' -h; "?" when it
// finds none.
func hostAddrs() []string {
	var out []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || len(out) == 4 {
			continue
		}
		out = append(out, n.IP.String())
	}
	if len(out) == 0 {
		return []string{"?"}
	}
	return out
}
