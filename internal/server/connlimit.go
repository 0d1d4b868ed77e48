package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConns is the default bound of LimitConns (mmsb serve
// --max-conns): far above the clients a server is run with (each holds
// one connection, HTTP/2 multiplexing its calls), and below the hard limit
// of open files of most systems (Go raises a process's soft limit to it at
// start), of which the bus needs some too.
const DefaultMaxConns = 2048

// DefaultMaxConnsPerClient is the default per-client bound of LimitConns
// (mmsb serve --max-conns-per-client): a client needs one connection
// (HTTP/2 multiplexes its calls and streams), a browser opens at most six
// per server over HTTP/1.1, and a few dozen processes behind one address
// (a host, a NAT) still fit; one address alone can no longer hold all
// DefaultMaxConns and lock every other client out (it takes 32).
const DefaultMaxConnsPerClient = 64

// ClientKey is the client a connection or request from the remote
// address addr (host:port, as net.Conn.RemoteAddr and
// http.Request.RemoteAddr give it) counts for in the per-client bounds:
// an IPv4 address is one client; an IPv6 address counts for its /64
// prefix, since a host or a home network is normally given a whole /64
// (SLAAC and privacy addresses pick any of its 2^64 addresses, so one
// host could otherwise pass for as many clients as it liked); an
// IPv4-mapped IPv6 address is its IPv4 address. An address that is no
// IP address (a Unix socket's, a test pipe's) is its own text.
func ClientKey(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		a, err2 := netip.ParseAddr(addr)
		if err2 != nil {
			return addr
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	ip := ap.Addr().Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// boundedClient returns the ClientKey of the remote address addr and
// whether the per-client bounds apply to it: not to a loopback address
// (unless countLoopback, tests), where every client of this host, and a
// proxy in front of the server, has the same address, so that a bound
// per address would only be a lower --max-conns (`mmsb loadtest
// --watchers 100` opens 100 connections from 127.0.0.1); this host's
// users can do worse than fill the server anyway.
//
// The address itself is tested, not its key: ::1's key is its /64,
// "::/64", whose first address :: is no loopback address, so ::1 was
// bounded as any client until 2026-12-06 (`mmsb loadtest` against a
// server on [::1] or on localhost resolving to it refused past 64
// connections: TestLoopbackIPv6NotPerClient).
func boundedClient(addr string, countLoopback bool) (key string, bounded bool) {
	key = ClientKey(addr)
	if countLoopback {
		return key, true
	}
	a, err := netip.ParseAddr(addr)
	if ap, err2 := netip.ParseAddrPort(addr); err2 == nil {
		a, err = ap.Addr(), nil
	}
	if err == nil {
		return key, !a.Unmap().IsLoopback()
	}
	return key, true
}

// LimitConns returns a listener that holds at most maxConns connections
// from ln open at once (0: DefaultMaxConns), and at most maxPerClient
// from one client (ClientKey; 0: no per-client bound, for a server
// behind a proxy, whose connections all come from the proxy's address;
// loopback addresses are not bounded per client).
// One accepted beyond either bound is closed at once, without a byte read
// or written (the client sees its connection reset or closed). A refusal
// for the server's bound is logged at Warn once until a connection is
// accepted again; refusals for a client's bound at most once a minute,
// with the count of those not logged: a client opening connections in a
// loop must not fill the log.
// Without a bound each connection costs the server a descriptor and a
// goroutine, and a client with no credential at all (auth is checked per
// call) could open them until the process ran out of descriptors, when
// every Accept fails and the bus's own files cannot be opened; without
// the per-client bound (until 2026-12-06) one client could hold all
// maxConns and lock every other client out (TestLimitConnsPerClient).
//
// A refused connection is closed rather than left waiting: the kernel's
// backlog would keep it, the client would wait without an answer, and
// those in the backlog would be served only as open ones end, which a
// watch stream may never do. The bound counts connections, not calls;
// idle ones are closed after the HTTP server's IdleTimeout.
func LimitConns(ln net.Listener, maxConns, maxPerClient int, log *slog.Logger) net.Listener {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if maxPerClient < 0 {
		maxPerClient = 0
	}
	if log == nil {
		log = slog.Default()
	}
	return &limitListener{Listener: ln, max: int64(maxConns), log: log,
		perClient: maxPerClient, clients: map[string]int{}, clientLog: refusalLog{log: log, every: perClientLogEvery}}
}

// perClientLogEvery is how often at most a refusal for a client's bound
// is logged.
const perClientLogEvery = time.Minute

type limitListener struct {
	net.Listener
	max    int64
	open   atomic.Int64
	warned atomic.Bool
	log    *slog.Logger

	perClient     int  // 0: none
	countLoopback bool // tests: bound loopback clients too
	mu            sync.Mutex
	clients       map[string]int // open connections per ClientKey (with perClient only)
	clientLog     refusalLog     // the refusals for a client's bound

	// refused, when set (tests), is called after each refused connection
	// is closed.
	refused func()
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			_ = c.Close()
			if !l.warned.Swap(true) {
				l.log.Warn("refusing connections: the server holds the most it allows open (--max-conns); this is logged once until one is accepted again",
					"max_conns", l.max, "peer", c.RemoteAddr().String())
			}
			l.refusedOne()
			continue
		}
		key, bounded := "", false
		if l.perClient > 0 {
			key, bounded = boundedClient(c.RemoteAddr().String(), l.countLoopback)
		}
		if bounded {
			if !l.takeClient(key) {
				l.open.Add(-1)
				_ = c.Close()
				l.refuseClient(key, c.RemoteAddr().String())
				l.refusedOne()
				continue
			}
		}
		l.warned.Store(false)
		return &limitConn{Conn: c, l: l, key: key, bounded: bounded}, nil
	}
}

func (l *limitListener) refusedOne() {
	if l.refused != nil {
		l.refused()
	}
}

// takeClient counts one more connection of client key, or says it holds
// the most it may.
func (l *limitListener) takeClient(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients[key] >= l.perClient {
		return false
	}
	l.clients[key]++
	return true
}

// releaseClient gives back one connection of client key.
func (l *limitListener) releaseClient(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients[key]--; l.clients[key] <= 0 {
		delete(l.clients, key) // the map holds the clients connected now, no more
	}
}

// refuseClient logs a refusal for a client's bound, at most once per
// perClientLogEvery.
func (l *limitListener) refuseClient(key, peer string) {
	l.clientLog.warn("refusing a connection: its client holds the most connections one client may (--max-conns-per-client; an IPv6 client is its /64); this is logged at most once a minute",
		"max_conns_per_client", l.perClient, "client", key, "peer", peer)
}

// limitConn gives its slots back once, at its first Close.
type limitConn struct {
	net.Conn
	l   *limitListener
	key string // its ClientKey, when the listener bounds its client
	// bounded: it counts for its client (it gives back its slot there).
	bounded bool
	once    sync.Once
}

// CloseWrite passes through to a TCP connection: the HTTP server
// half-closes one it ends after an error, so that the client reads the
// answer before the reset.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.bounded {
			c.l.releaseClient(c.key)
		}
		c.l.open.Add(-1)
	})
	return err
}
