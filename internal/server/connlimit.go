package server

import (
	"errors"
	"fmt"
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

	// The probe connections' reserve (ReserveProbeConns): probeMax 0
	// means none. Guarded by mu.
	probeMax       int
	probePerClient int
	probeLife      time.Duration
	probeOpen      int
	probeClients   map[string]int // per ClientKey, for bounded clients only
}

// ProbeConnReserve is how many connections ReserveProbeConns holds at
// once beyond --max-conns (and a client's --max-conns-per-client) for
// health probes, ProbeConnReservePerClient how many of them one client
// (bounded as for --max-conns-per-client, also where that is 0) may hold, and ProbeConnLife how
// long one may stay open, from its accept to its close, whatever it
// carries (a probe's answer is cut there too). A prober opens one
// connection per probe (the kubelet does), and answers it within a
// second or so; a client flooding the reserve from
// ProbeConnReserve/ProbeConnReservePerClient addresses keeps each of its
// connections at most ProbeConnLife.
const (
	ProbeConnReserve          = 16
	ProbeConnReservePerClient = 2
	ProbeConnLife             = 5 * time.Second
)

// ErrNotLimited is ReserveProbeConns' error for a listener LimitConns
// did not return.
var ErrNotLimited = errors.New("server: not a LimitConns listener")

// ReserveProbeConns gives ln, a listener of LimitConns, a reserve of
// probe connections (mmsb serve sets ProbeConnReserve,
// ProbeConnReservePerClient and ProbeConnLife): a connection beyond
// ln's bounds is accepted while fewer than total such connections are
// open (and fewer than perClient of its client, for a client bounded as
// for maxPerClient, even where maxPerClient is 0; perClient 0: no
// per-client bound of the reserve),
// instead of being closed unanswered. An HTTP server of NewHTTPServer
// serves on such a connection only health probes (GET or HEAD /healthz
// or /readyz without a body, LimitRequests's probeOf), one on each
// stream, and closes it after its first answer (HTTP/1.1: the answer
// says Connection: close; HTTP/2: its reads and writes end
// RefusalWriteGrace later); any other request on it is answered with a
// resource_exhausted refusal naming the connection bound it passed and
// its flag, as LimitRequests's refusals are, rather than the reset it
// got before. Whatever it carries, such a connection is closed life
// after it was accepted (its read and write deadlines never lie past
// that; 0: ProbeConnLife).
//
// Without it, at --max-conns (or at --max-conns-per-client of the
// prober's address) a probe's new connection was closed unanswered like
// any other, and a liveness probe restarted a server that was merely
// busy, ending every watch (TestProbeAnsweredAtMaxConns). Call it before
// ln serves; total <= 0 takes the reserve away.
func ReserveProbeConns(ln net.Listener, total, perClient int, life time.Duration) error {
	l, ok := ln.(*limitListener)
	if !ok {
		return fmt.Errorf("%w: %T", ErrNotLimited, ln)
	}
	if life <= 0 {
		life = ProbeConnLife
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probeMax, l.probePerClient, l.probeLife = max(total, 0), max(perClient, 0), life
	l.probeClients = map[string]int{}
	return nil
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, bounded := "", false
		if l.perClient > 0 {
			key, bounded = boundedClient(c.RemoteAddr().String(), l.countLoopback)
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if !l.warned.Swap(true) {
				l.log.Warn("refusing connections: the server holds the most it allows open (--max-conns); connections past it serve health probes only while its reserve has room, others are closed unanswered; this is logged once until one is accepted again",
					"max_conns", l.max, "probe_conn_reserve", l.probeReserve(), "peer", c.RemoteAddr().String())
			}
			if pc := l.takeProbeConn(c, key, bounded, "--max-conns", int(l.max)); pc != nil {
				return pc, nil
			}
			_ = c.Close()
			l.refusedOne()
			continue
		}
		if bounded {
			if !l.takeClient(key) {
				l.open.Add(-1)
				l.refuseClient(key, c.RemoteAddr().String())
				if pc := l.takeProbeConn(c, key, bounded, "--max-conns-per-client", l.perClient); pc != nil {
					return pc, nil
				}
				_ = c.Close()
				l.refusedOne()
				continue
			}
		}
		l.warned.Store(false)
		return &limitConn{Conn: c, l: l, key: key, bounded: bounded}, nil
	}
}

// probeReserve is the size of the probe connections' reserve.
func (l *limitListener) probeReserve() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.probeMax
}

// takeProbeConn returns c as a probe connection of the reserve, refused
// by the bound named flag, or nil when the reserve (or client key's
// share of it, when bounded) is full.
func (l *limitListener) takeProbeConn(c net.Conn, key string, bounded bool, flag string, bound int) *limitConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probeOpen >= l.probeMax {
		return nil
	}
	if l.perClient == 0 {
		// The reserve is bounded per client without a per-client bound
		// of connections too (--max-conns-per-client 0, behind a proxy):
		// one client took all of it until 2026-12-07, and every other
		// prober's connection was closed unanswered
		// (TestProbeConnReservePerClient).
		key, bounded = boundedClient(c.RemoteAddr().String(), l.countLoopback)
	}
	bounded = bounded && l.probePerClient > 0
	if bounded {
		if l.probeClients[key] >= l.probePerClient {
			return nil
		}
		l.probeClients[key]++
	}
	l.probeOpen++
	pc := &limitConn{Conn: c, l: l, key: key, bounded: bounded,
		probe: &probeConn{flag: flag, bound: bound, end: time.Now().Add(l.probeLife)}}
	// Its deadlines until the HTTP server sets its own (SetDeadline
	// keeps those at end or before).
	_ = c.SetDeadline(pc.probe.end)
	return pc
}

// releaseProbeConn gives back a probe connection's place in the reserve.
func (l *limitListener) releaseProbeConn(key string, bounded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probeOpen--
	if bounded {
		if l.probeClients[key]--; l.probeClients[key] <= 0 {
			delete(l.probeClients, key)
		}
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
	l.clientLog.warn("refusing a connection: its client holds the most connections one client may (--max-conns-per-client; an IPv6 client is its /64); it serves health probes only while the probe reserve has room, else it is closed unanswered; this is logged at most once a minute",
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
	// probe is set on a connection of the probe reserve
	// (ReserveProbeConns), which counts there instead.
	probe *probeConn
}

// probeConn is what a connection of the probe reserve knows beyond a
// limitConn: the bound it passed, for the refusal of a request that is
// no probe, and when it ends.
type probeConn struct {
	flag  string // "--max-conns" or "--max-conns-per-client"
	bound int

	mu     sync.Mutex
	end    time.Time // no deadline lies past it
	rd, wd time.Time // the deadlines last asked for (zero: none)
}

// clamp is t, or end when t is zero or after end.
func (p *probeConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(p.end) {
		return p.end
	}
	return t
}

// SetDeadline, SetReadDeadline and SetWriteDeadline keep a probe
// connection's deadlines at its end or before: the HTTP server sets its
// own (the header timeout, none while a request is served, the idle
// timeout), which would otherwise let it live on.
func (c *limitConn) SetDeadline(t time.Time) error {
	if c.probe == nil {
		return c.Conn.SetDeadline(t)
	}
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	c.probe.rd, c.probe.wd = t, t
	return c.Conn.SetDeadline(c.probe.clamp(t))
}

func (c *limitConn) SetReadDeadline(t time.Time) error {
	if c.probe == nil {
		return c.Conn.SetReadDeadline(t)
	}
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	c.probe.rd = t
	return c.Conn.SetReadDeadline(c.probe.clamp(t))
}

func (c *limitConn) SetWriteDeadline(t time.Time) error {
	if c.probe == nil {
		return c.Conn.SetWriteDeadline(t)
	}
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	c.probe.wd = t
	return c.Conn.SetWriteDeadline(c.probe.clamp(t))
}

// endBy brings a probe connection's end to t at the latest, its
// deadlines with it.
func (c *limitConn) endBy(t time.Time) {
	p := c.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.Before(p.end) {
		return
	}
	p.end = t
	_ = c.Conn.SetReadDeadline(p.clamp(p.rd))
	_ = c.Conn.SetWriteDeadline(p.clamp(p.wd))
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
		if c.probe != nil {
			c.l.releaseProbeConn(c.key, c.bounded)
			return
		}
		if c.bounded {
			c.l.releaseClient(c.key)
		}
		c.l.open.Add(-1)
	})
	return err
}
