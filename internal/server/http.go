package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// DefaultMaxRequestBytes bounds a request message (64 MiB): larger ones
// fail with ResourceExhausted before they are decoded.
const DefaultMaxRequestBytes = 64 << 20

// HTTPOptions configure the HTTP side of a server.
type HTTPOptions struct {
	// Auth, when set, authorises every call (see NewAuth).
	Auth *Auth
	// MaxRequestBytes bounds one request message (0: DefaultMaxRequestBytes).
	MaxRequestBytes int
	// Timeout is the deadline of a unary call that brings none (0: none).
	// Streams (Watch, QueryLog) run until the client or shutdown ends them.
	Timeout time.Duration
	// GzipMinBytes: gzip response messages of at least this many bytes
	// for clients that accept gzip (0: never). Off by default: a watch
	// stream compressed for every watcher cost a loopback server most of
	// its CPU (docs/server.md, "Watch figures"). Compressed requests are
	// accepted either way.
	GzipMinBytes int
	// OuterInterceptors run outside the server's own (logging, auth,
	// timeout), so they see every call, refused ones included: the
	// RPC-metrics interceptor of NewMetrics goes here.
	OuterInterceptors []connect.Interceptor
	// Interceptors run after auth on calls it admits (the web
	// inspector's recorder of refused cycles).
	Interceptors []connect.Interceptor
	// AnswerTimeout bounds the time a unary call's answer may take to be
	// written, from its first byte (0: DefaultAnswerTimeout; see there).
	// Streams (Watch, QueryLog) have none.
	AnswerTimeout time.Duration
}

// DefaultAnswerTimeout is how long a unary call's answer, or any other
// but a stream's (NewHTTPServer), may take to be
// written, from its first byte to its end (about 0.5 MB/s for the
// largest, a Read of 64 MiB, as BodyReadTimeout for a request's body).
// Past it the answer's HTTP/2 stream is reset (an HTTP/1.1 connection
// closed) and the call's handler, its place among the requests in flight
// (--max-requests) and its answer's memory are given back. Without it
// (until 2026-12-07) a client announcing a window of 0, or one that
// stopped reading, held each answer, a goroutine and its place until
// its connection closed, which an open stream keeps from idling: a Read
// of 64 MiB per place, --max-requests-per-client (256) of them
// (TestUnreadUnaryAnswerReset).
const DefaultAnswerTimeout = 2 * time.Minute

// Mux returns the HTTP handler: the service under its path, /healthz
// (the process answers) and /readyz (the bus accepts writes). Other
// handlers (/metrics) are added with mux.Handle.
func (s *Server) Mux(o HTTPOptions) *http.ServeMux {
	maxBytes := o.MaxRequestBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRequestBytes
	}
	ics := append(append([]connect.Interceptor(nil), o.OuterInterceptors...), logInterceptor{s.log})
	if o.Auth != nil {
		ics = append(ics, o.Auth)
	}
	// A write refused at the bounds on write bytes (countWrites), after
	// auth, so that a call without a credential is refused as such.
	ics = append(ics, writeRefusalInterceptor{})
	if o.Timeout > 0 {
		ics = append(ics, UnaryTimeout(o.Timeout))
	}
	compressMin := math.MaxInt // never
	if o.GzipMinBytes > 0 {
		compressMin = o.GzipMinBytes
	}
	ics = append(ics, o.Interceptors...)
	mux := http.NewServeMux()
	path, h := s.Handler(append([]connect.HandlerOption{connect.WithReadMaxBytes(maxBytes), connect.WithInterceptors(ics...),
		connect.WithCompressMinBytes(compressMin), BoundedGzip(maxBytes, maxRequestBytesFlag), ProtoCodec()}, JSONCodecs()...)...)
	answerTimeout := o.AnswerTimeout
	if answerTimeout <= 0 {
		answerTimeout = DefaultAnswerTimeout
	}
	// Behind the Gate below: a call without a credential counts only the
	// empty message the Gate gives it.
	h = BoundMessages(h, maxBytes, maxRequestBytesFlag) // its refusal names the flag
	h = CutEnvelopes(h)                                 // inside countWrites: its refusals pass through
	h = countWrites(h, maxBytes)
	h = s.watchCut.Track(h, mmsbv1connect.BusServiceWatchProcedure)
	h = s.queryCut.Track(h, mmsbv1connect.BusServiceQueryLogProcedure)
	if o.Auth != nil {
		h = o.Auth.Gate(h)
	}
	// Outermost, so that the Gate's refusals are bounded too.
	h = AnswerDeadline(h, answerTimeout, mmsbv1connect.BusServiceWatchProcedure, mmsbv1connect.BusServiceQueryLogProcedure)
	mux.Handle(path, h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	// /readyz: the bus accepts writes; /readyz/reads: it answers reads,
	// the same here, where the bus is the only writer of its directory
	// (serve --replicate answers them apart on a follower).
	ready := func(w http.ResponseWriter, _ *http.Request) {
		if err := s.bus.Err(); err != nil {
			// The bus's error names files, offsets and the system's
			// errors, and /readyz is served without authentication (a
			// probe has no token): the detail goes to the log, once per
			// error (probes ask every few seconds), and to callers with a
			// credential through the RPCs, which fail with it
			// (TestReadyzHidesBusError).
			if !s.readyzLogged.Swap(true) {
				s.log.Error("not ready: the bus failed", "err", err)
			}
			http.Error(w, "not ready: the bus failed (the server's log has the error)", http.StatusServiceUnavailable)
			return
		}
		s.writeMu.Lock()
		draining := s.draining
		s.writeMu.Unlock()
		if draining {
			http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	}
	mux.HandleFunc("GET /readyz", ready)
	mux.HandleFunc("GET /readyz/reads", ready)
	return mux
}

// logInterceptor logs each failed call at Info and each call at Debug:
// procedure, code, duration, peer. Never a header (tokens live there).
type logInterceptor struct{ log *slog.Logger }

func (l logInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		l.done(ctx, req.Spec().Procedure, req.Peer().Addr, start, err)
		return resp, err
	}
}

func (l logInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (l logInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		l.done(ctx, conn.Spec().Procedure, conn.Peer().Addr, start, err)
		return err
	}
}

func (l logInterceptor) done(ctx context.Context, proc, peer string, start time.Time, err error) {
	level := slog.LevelDebug
	code := "ok"
	if err != nil {
		level, code = slog.LevelInfo, connect.CodeOf(err).String()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs := []any{"procedure", proc, "code", code, "duration", time.Since(start), "peer", peer}
	if err != nil {
		attrs = append(attrs, "err", loggedError(err))
	}
	l.log.Log(ctx, level, "rpc", attrs...)
}

// maxLoggedError bounds the error text of one request log line.
const maxLoggedError = 1024

// loggedError is err's text for the request log, cut to maxLoggedError
// bytes (at a character boundary) with its full length named: an error
// may quote what the request sent (a function name, a key), and every
// failed call is logged at Info, so a client sending megabytes of name
// wrote megabytes to the log per call (TestFailedCallLogBounded).
func loggedError(err error) string {
	msg := err.Error()
	if len(msg) <= maxLoggedError {
		return msg
	}
	n := maxLoggedError
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", msg[:n], len(msg))
}

// UnaryTimeout returns the interceptor that gives unary calls without a
// deadline one of d (HTTPOptions.Timeout, --timeout); streams get none.
// The inspector's service takes it too, so that a page view waiting for
// an as-of slot ends as a Read does.
func UnaryTimeout(d time.Duration) connect.Interceptor { return timeoutInterceptor(d) }

// timeoutInterceptor gives unary calls without a deadline one.
type timeoutInterceptor time.Duration

func (t timeoutInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(t))
			defer cancel()
		}
		return next(ctx, req)
	}
}

func (t timeoutInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (t timeoutInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// ErrExposed refuses a non-loopback listen address without authentication.
var ErrExposed = errors.New("server: refusing to listen beyond loopback without authentication")

// CheckExposure refuses a listen address reachable from other hosts unless
// the server authenticates (tokens or client certificates) or insecure is
// set. Host names other than localhost count as exposed.
func CheckExposure(addr string, authenticated, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	if authenticated || insecure || IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address: give --token-file, or --tls-cert/--tls-key/--client-ca, or --insecure", ErrExposed, addr)
}

// IsLoopback says whether host names only the local machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BodyReadTimeout bounds the time a request's body takes to arrive,
// from the start of the request to the end of its body (at the default
// --max-request-bytes of 64 MiB, about 0.5 MB/s). The server cannot have
// a ReadTimeout, which would cut watch streams, and without this bound a
// client that sent a request's headers and then its body a byte now and
// then, or not at all, held a connection and its goroutine for as long as
// it liked: even a request refused without its body being read, since
// net/http reads up to 256 KiB of an unread body before it answers, to
// keep the connection (TestSlowRequestBodyCut).
const BodyReadTimeout = 2 * time.Minute

// MaxHeaderBytes bounds a request's header (64 KiB; net/http's default
// is 1 MiB): the server holds it, with no credential checked yet, for up
// to the 10 s header timeout, and 200 connections each sending a header
// of 1 MiB held 340 MB of the server's memory, about 3.5 GB at the
// default --max-conns (TestRequestHeaderBound). Connect and gRPC headers
// take a few hundred bytes, a browser's rarely more than a few KiB.
const MaxHeaderBytes = 64 << 10

// NewHTTPServer returns an http.Server for handler speaking HTTP/1.1 and
// HTTP/2 (over TLS, and in cleartext for gRPC clients), with at most
// maxStreams concurrent streams per HTTP/2 connection (0: 250). A
// request's header is at most MaxHeaderBytes, and its body must arrive
// within BodyReadTimeout.
//
// Every answer but a stream's (a request StreamCut.Track or
// AnswerDeadline names as one) must be written within
// DefaultAnswerTimeout of its first byte, whatever handler writes it:
// Mux's service and the inspector's bound theirs themselves, and until
// 2026-12-07 the other handlers mmsb serve mounts (/metrics) had no
// bound, so that a client announcing an HTTP/2 window of 0 held each
// such answer, its handler and its place among the requests in flight
// until its connection closed (TestEveryAnswerTimed).
func NewHTTPServer(handler http.Handler, maxStreams int, log *slog.Logger) *http.Server {
	return newHTTPServer(handler, maxStreams, log, BodyReadTimeout, DefaultAnswerTimeout)
}

// newHTTPServer is NewHTTPServer with the body's and the answer's time
// bounds as parameters (tests shorten them).
func newHTTPServer(handler http.Handler, maxStreams int, log *slog.Logger, bodyTimeout, answerTimeout time.Duration) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	if maxStreams <= 0 {
		maxStreams = 250
	}
	return &http.Server{
		Handler: probeConnGate(bodyDeadline(answerDeadlineAll(handler, answerTimeout), bodyTimeout)),
		// A connection of the probe reserve (ReserveProbeConns) is
		// marked in its requests' contexts, for probeConnGate.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc := probeConnOf(c); pc != nil {
				return context.WithValue(ctx, probeConnKey{}, pc)
			}
			return ctx
		},
		Protocols:         &p,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		// Idle keep-alive connections (no request, no stream) are closed:
		// without it, and with no ReadTimeout (streams cannot have one),
		// a quiet client kept a descriptor and a goroutine forever.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    stdlog.New(&limitedLog{log: log, burst: errorLogBurst, window: errorLogWindow}, "", 0),
	}
}

// The HTTP server's own log (a failed TLS handshake, a client's HTTP/2
// protocol error, a handler's panic) is written at Warn, at most
// errorLogBurst lines per errorLogWindow; the lines past them are
// counted, and the count logged with the next line let through. Each such
// line is one connection of any client, with no credential: a client
// opening connections and sending junk wrote a line (about 200 bytes) per
// connection, as fast as it could connect (TestHTTPServerLogBounded).
const (
	errorLogBurst  = 10
	errorLogWindow = time.Minute
)

// limitedLog writes the lines of the HTTP server's log to log, at most
// burst per window.
type limitedLog struct {
	log    *slog.Logger
	burst  int
	window time.Duration

	mu         sync.Mutex
	start      time.Time // of the current window
	written    int       // lines written in it
	suppressed int       // lines dropped since the last one written
}

func (l *limitedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.start) >= l.window {
		l.start, l.written = now, 0
	}
	if l.written >= l.burst {
		l.suppressed++
		l.mu.Unlock()
		return len(p), nil
	}
	l.written++
	dropped := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	msg := strings.TrimSuffix(string(p), "\n")
	if dropped > 0 {
		l.log.Warn(msg, "suppressed", dropped, "note", fmt.Sprintf("%d earlier lines of the HTTP server's log were not written (at most %d a %v)", dropped, l.burst, l.window))
	} else {
		l.log.Warn(msg)
	}
	return len(p), nil
}

// bodyDeadline gives each request with a body a read deadline of d from
// its start, lifted once the body has been read to its end, so that the
// rest of the call (a watch stream's hours) runs without one. A body the
// handler leaves unread (a call refused before its message is read, or
// a method that takes none) keeps the deadline: net/http's reading of
// its rest before the answer, or the stream's, ends there, and the
// connection is closed.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				// On a copy: net/http decides from its own request's
				// body whether the connection can take another request
				// after this one (not when a read of the body failed).
				body := &deadlineBody{ReadCloser: r.Body, rc: rc}
				r = r.WithContext(r.Context())
				r.Body = body
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts its request's read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// probeConnKey is the context key of a request's probe connection.
type probeConnKey struct{}

// probeConnOf returns c's limitConn when c (or the connection under c's
// TLS) is a connection of the probe reserve, else nil.
func probeConnOf(c net.Conn) *limitConn {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = t.NetConn()
	}
	if lc, ok := c.(*limitConn); ok && lc.probe != nil {
		return lc
	}
	return nil
}

// probeConnGate serves on a connection of the probe reserve
// (ReserveProbeConns) only health probes (probeOf), and ends the
// connection after its first answer; any other request there is refused
// as LimitRequests refuses one (resource_exhausted, Mmsb-Busy naming the
// connection bound), without calling h. Requests on other connections
// pass through.
func probeConnGate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc, _ := r.Context().Value(probeConnKey{}).(*limitConn)
		if pc == nil {
			h.ServeHTTP(w, r)
			return
		}
		if r.ProtoMajor < 2 {
			w.Header().Set("Connection", "close")
		}
		if i, ok := probeOf(r); ok && i != metricsPath { // health probes only: /metrics has no connection reserve
			h.ServeHTTP(w, r)
		} else {
			refuseOnProbeConn(w, r, pc)
		}
		// Sent (over HTTP/2, once in the client's window), then the
		// connection ends: its reads and writes fail a grace later.
		sent(w, r)
		pc.endBy(time.Now().Add(RefusalWriteGrace))
	})
}

// refuseOnProbeConn answers r, a request that is no health probe on a
// connection of the probe reserve, with a resource_exhausted refusal
// naming the connection bound that connection passed.
func refuseOnProbeConn(w http.ResponseWriter, r *http.Request, pc *limitConn) {
	p := pc.probe
	var msg string
	if p.flag == "--max-conns-per-client" {
		msg = fmt.Sprintf("too many connections open from your address (%s): at most %d at once (%s %d); this connection serves health probes only (GET or HEAD /healthz, /readyz); close connections you do not use, then retry", pc.key, p.bound, p.flag, p.bound)
	} else {
		msg = fmt.Sprintf("server busy: %d connections are open, the most this server holds (%s %d); this connection serves health probes only (GET or HEAD /healthz, /readyz); retry later", p.bound, p.flag, p.bound)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(RefusalWriteGrace))
	w.Header().Set("Retry-After", "1")
	w.Header().Set(BusyKey, p.flag)
	writeResourceExhausted(w, r, msg)
}

// AnswerDeadline gives the answer of each request to h, but those to
// the stream paths (exact URL paths: the procedures of streaming
// methods), a write deadline of d from its first byte (or its header;
// d <= 0: DefaultAnswerTimeout), so that a client that does not read it
// cannot hold the handler, and the answer, for longer. Mux puts it
// around the service; the web inspector puts it around its own service
// and UI, which Mux does not serve (TestInspectorUnreadAnswerReset). On
// HTTP/1.1 the deadline does not stay on the connection for its next
// requests (a watch among them): net/http lifts it once the answer is
// written (TestAnswerTimeoutLiftedHTTP1).
func AnswerDeadline(h http.Handler, d time.Duration, streams ...string) http.Handler {
	if d <= 0 {
		d = DefaultAnswerTimeout
	}
	stream := make(map[string]bool, len(streams))
	for _, p := range streams {
		stream[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stream[r.URL.Path] {
			exemptAnswer(r.Context())
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}, r)
	})
}

// answerExemptKey is the context key of the flag that exempts a request
// of the HTTP server from answerDeadlineAll (a stream).
type answerExemptKey struct{}

// exemptAnswer exempts the request of ctx, a stream, from the answer
// deadline of NewHTTPServer, when it is served there.
func exemptAnswer(ctx context.Context) {
	if f, ok := ctx.Value(answerExemptKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// answerDeadlineAll gives the answer of every request to h a write
// deadline of d from its first byte, as AnswerDeadline does, but those
// of streams, which the handlers mark as such (exemptAnswer, through
// StreamCut.Track and AnswerDeadline) before they write.
func answerDeadlineAll(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exempt := new(atomic.Bool)
		dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d, exempt: exempt}
		h.ServeHTTP(dw, r.WithContext(context.WithValue(r.Context(), answerExemptKey{}, exempt)))
	})
}

// deadlineWriter sets its answer's write deadline at the first byte or
// header written, unless one was set through it before (a refusal's
// shorter one) or its request is exempt (a stream).
type deadlineWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	d      time.Duration
	set    atomic.Bool  // a deadline was set (StreamCut sets one from another goroutine)
	exempt *atomic.Bool // nil: none
}

func (w *deadlineWriter) start() {
	if w.exempt != nil && w.exempt.Load() {
		return
	}
	if w.set.CompareAndSwap(false, true) {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

// SetWriteDeadline passes a deadline set by the handlers (through
// http.ResponseController) on, after which start sets none of its own:
// a refusal's RefusalWriteGrace, a cut stream's StreamEndGrace are not
// made longer by it.
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.set.Store(true)
	return w.rc.SetWriteDeadline(t)
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(p)
}

// Flush lets Connect flush through it (it asserts http.Flusher).
func (w *deadlineWriter) Flush() {
	_ = w.FlushError()
}

// FlushError gives http.ResponseController the flush's error.
func (w *deadlineWriter) FlushError() error { return w.rc.Flush() }

// Unwrap gives http.ResponseController the writer underneath.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
