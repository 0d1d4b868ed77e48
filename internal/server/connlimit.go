package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// DefaultMaxConns is the default bound of LimitConns (mmsb serve
// --max-conns): far above the clients a server is run with (each holds
// one connection, HTTP/2 multiplexing its calls), and below the hard limit
// of open files of most systems (Go raises a process's soft limit to it at
// start), of which the bus needs some too.
const DefaultMaxConns = 2048

// LimitConns returns a listener that holds at most maxConns connections
// from ln open at once (0: DefaultMaxConns). One accepted beyond it is
// closed at once, without a byte read or written (the client sees its
// connection reset or closed),
// and the refusal is logged at Warn, once until a connection is accepted
// again: a client opening connections in a loop must not fill the log.
// Without a bound each connection costs the server a descriptor and a
// goroutine, and a client with no credential at all (auth is checked per
// call) could open them until the process ran out of descriptors, when
// every Accept fails and the bus's own files cannot be opened.
//
// A refused connection is closed rather than left waiting: the kernel's
// backlog would keep it, the client would wait without an answer, and
// those in the backlog would be served only as open ones end, which a
// watch stream may never do. The bound counts connections, not calls;
// idle ones are closed after the HTTP server's IdleTimeout.
func LimitConns(ln net.Listener, maxConns int, log *slog.Logger) net.Listener {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if log == nil {
		log = slog.Default()
	}
	return &limitListener{Listener: ln, max: int64(maxConns), log: log}
}

type limitListener struct {
	net.Listener
	max    int64
	open   atomic.Int64
	warned atomic.Bool
	log    *slog.Logger
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
		if l.open.Add(1) <= l.max {
			l.warned.Store(false)
			return &limitConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		_ = c.Close()
		if !l.warned.Swap(true) {
			l.log.Warn("refusing connections: the server holds the most it allows open (--max-conns); this is logged once until one is accepted again",
				"max_conns", l.max, "peer", c.RemoteAddr().String())
		}
		if l.refused != nil {
			l.refused()
		}
	}
}

// limitConn gives its slot back once, at its first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
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
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
