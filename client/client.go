// Package client is the Go client of an MMSB server (`mmsb serve`,
// docs/server.md). Its methods are named after the bus's (mmsb.Bus) and take
// and return the bus's types, so code moves between an embedded bus and a
// remote one with few changes.
//
// Idempotent calls (reads, listings, stats, log queries before their first
// result) are retried with exponential backoff when the server is
// unavailable; calls that change state (Commit, CreatePages, ...) never are:
// a retry could apply them twice. A call whose context ends while it waits
// to retry returns an error wrapping both the context's error and the
// server's last answer. Watch resumes by itself after a dropped
// stream, from the LSN after the last change it delivered, and after a
// stream silent for longer than WatchOptions.SilenceTimeout (a hung server
// or a half-open connection). Over HTTP/2 the client pings a connection
// that has been silent (WithPings) and closes it when the ping goes
// unanswered: the calls on it fail with ErrConnectionSilent (idempotent
// ones are retried on a new connection). Over HTTP/1.1, and against a
// server that answers pings but not a call, only the call's context
// bounds it: the client sets no default deadline.
//
// # Errors
//
// Every call returns one of these, besides what its own documentation
// names:
//
//   - what the client refuses before asking the server (a nil context,
//     a nil function or Read item, a negative option): an error wrapping
//     mmsb.ErrInvalidOption that names the call and the value;
//   - after Close, an error wrapping mmsb.ErrClosed that names the call;
//   - the server's refusal: a *connect.Error (connect.CodeOf gives its
//     code; docs/server.md, "Error codes") that also wraps the bus
//     sentinels the server named, so errors.Is(err, mmsb.ErrPageNotFound)
//     or mmsb.ErrConflict holds as with an embedded bus; a call the
//     token's role does not allow fails with code PermissionDenied, one
//     without a valid token with Unauthenticated;
//   - an answer that does not match the request: an error wrapping
//     ErrBadResponse, naming what was wrong;
//   - a refusal at one of the server's bounds on work in flight
//     (--max-requests, --max-watchers, ...): code ResourceExhausted,
//     wrapping ErrServerBusy (retry later; Watch does);
//   - an answer larger than the client reads (DefaultReadMaxBytes): code
//     ResourceExhausted;
//   - a lost or silent connection: code Unavailable (wrapping
//     ErrConnectionSilent when a ping went unanswered), after the retries
//     of an idempotent call; also a connection the server closed or reset
//     as the client wrote, which connect-go codes Canceled;
//   - an http:// URL of a TLS server: code InvalidArgument, wrapping
//     mmsb.ErrInvalidOption, saying to use https://;
//   - ctx's end: the context's error, as a *connect.Error with code
//     Canceled or DeadlineExceeded (errors.Is(err, context.Canceled)
//     holds), or wrapping ctx.Err() while the call waited to retry.
//
// A call that changes state and fails with Unavailable, Canceled or
// DeadlineExceeded may or may not have been applied (docs/server.md).
// The functions given to Watch and QueryLog run on the caller's
// goroutine; a panic in one is not recovered, and the stream it ran on
// is closed as the panic unwinds (TestFnPanicEndsStream).
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/ctxarg"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// ErrBadResponse means the server answered something the request cannot
// have asked for (a count that does not match, an operation kind or a
// delta the client cannot decode): the client refuses it rather than
// deliver it short or zeroed. The error names the call and what was wrong.
var ErrBadResponse = errors.New("client: the server's answer does not match the request")

// ErrCommitUncertain means the server logged and applied a Commit's batch
// (or a CreatePages batch) and then failed (it did not become durable, or
// did not replicate; the wrapped server error says which): readers see
// the batch, and it may or may not survive a restart. Commit returns its
// CommitInfo and fills the deltas' LSNs and epochs along with the error,
// CreatePages the pages' IDs: do not commit the batch again blindly. When
// the server's account of them does not match the batch, the error wraps
// ErrBadResponse too, and the CommitInfo and IDs are zero.
var ErrCommitUncertain = errors.New("client: the batch was committed, then the commit failed")

// Client talks to one server. It is safe for concurrent use. Close
// releases its connections.
type Client struct {
	rpc     mmsbv1connect.BusServiceClient
	retries int
	backoff time.Duration
	// closed ends at Close: it refuses later calls and ends the watches
	// and log queries in flight.
	closed  context.Context
	closeFn context.CancelFunc
	// idle closes the idle connections of the transport New made (nil
	// with WithHTTPClient: that client is the caller's).
	idle func()
	// pingAfter and pingTimeout are the HTTP/2 health check of the
	// transport New made (WithPings); pingAfter 0: none.
	pingAfter, pingTimeout time.Duration
	// readMax is the read limit in force when the client knows it
	// (DefaultReadMaxBytes, no WithConnectOptions); 0 when connect
	// options were given, one of which may have set another
	// (connect.WithReadMaxBytes cannot be read back). readLimitError.
	readMax int64
}

// Option configures a Client.
type Option func(*options)

type options struct {
	token    string
	tokenSet bool // WithToken was given (token may be empty)
	hc       *http.Client
	hcSet    bool // WithHTTPClient was given (hc may be nil)
	tls      *tls.Config
	tlsSet   bool // WithTLS was given (tls may be nil: Go's default)
	grpc     bool
	retries  int
	backoff  time.Duration
	conn     []connect.ClientOption
	// pingAfter and pingTimeout: WithPings (pingSet: it was given).
	pingAfter, pingTimeout time.Duration
	pingSet                bool
}

// WithToken sends "Authorization: Bearer token" with every call. A token
// that is empty, or has a space or a control character (no token of a
// server's token file has one: docs/server.md), makes New fail with
// mmsb.ErrInvalidOption; both were accepted until 2026-12-07, and every
// call then failed with code Unauthenticated (TestWithTokenRefused).
// Leave the option out to send no token.
func WithToken(token string) Option {
	return func(o *options) { o.token, o.tokenSet = token, true }
}

// WithHTTPClient uses hc instead of the default (HTTP/1.1 or HTTP/2 over
// TLS; cleartext HTTP/2 with WithGRPC). hc is used as it is: the client
// adds no HTTP/2 pings to it (WithPings), nor anything else. Its Timeout,
// if any, bounds every call, the Watch and QueryLog streams included (a
// watch resumes after it). A nil hc makes New fail.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.hc, o.hcSet = hc, true }
}

// WithTLS sets the TLS configuration (server CA, client certificate) of
// the default HTTP client (nil: Go's default, the system's CAs). It needs
// an https:// base URL, and no WithHTTPClient (configure that client's
// transport instead): New refuses either, where the configuration would
// go unused.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls, o.tlsSet = cfg, true } }

// WithGRPC speaks gRPC instead of the Connect protocol.
func WithGRPC() Option { return func(o *options) { o.grpc = true } }

// WithRetries sets how many times an idempotent call is retried after an
// Unavailable error (default 4; 0 disables retries) and the first backoff
// (default 50 ms, doubling each time, capped at 2 s).
func WithRetries(n int, firstBackoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = n, firstBackoff }
}

// DefaultPingAfter and DefaultPingTimeout are the HTTP/2 health check of
// the HTTP client New makes, unless WithPings says otherwise: after 15 s
// without a frame from the server the client sends a ping, and a
// connection that does not answer it within 5 s is closed.
const (
	DefaultPingAfter   = 15 * time.Second
	DefaultPingTimeout = 5 * time.Second
)

// ErrConnectionSilent means a call's HTTP/2 connection was closed because
// it went silent: no frame for the ping interval, then no answer to a ping
// (WithPings). The server hung, or the connection is half-open (the peer
// gone, a NAT mapping dropped) and nothing closed it. The error wraps the
// transport's too, with code Unavailable: idempotent calls are retried on
// a new connection, calls that change state are not (whether the server
// applied one is unknown).
var ErrConnectionSilent = errors.New("client: the connection went silent")

// WithPings sets the HTTP/2 health check of the HTTP client New makes
// (gRPC, or HTTP/2 over TLS): after a connection brings no frame for after
// (default DefaultPingAfter), the client pings the server, and closes the
// connection if no answer comes within timeout (default
// DefaultPingTimeout); the calls on it fail with an error wrapping
// ErrConnectionSilent, and the next call opens a new connection. after 0
// turns the check off. Without it a call with no context deadline on a
// dead connection waits for ever, and so does every later call that the
// transport puts on the same connection. It has no effect on HTTP/1.1
// connections (Connect over http://), which have no pings: there a
// call's context deadline is what bounds it. New refuses a negative
// value, a zero timeout with a nonzero after, and WithPings with
// WithHTTPClient (configure that client's transport: http.Transport.HTTP2).
func WithPings(after, timeout time.Duration) Option {
	return func(o *options) { o.pingAfter, o.pingTimeout, o.pingSet = after, timeout, true }
}

// WithConnectOptions passes options to the underlying Connect client.
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(o *options) { o.conn = append(o.conn, opts...) }
}

// DefaultReadMaxBytes is the largest message a client reads from the
// server unless WithConnectOptions(connect.WithReadMaxBytes(n)) says
// otherwise: above the largest answer a server of this module sends (a
// Read answer of 64 MiB of page data and the framing of its 2^20 items,
// about 80 MiB; watch and log messages stop after 4 MiB of delta data
// and one more operation). A larger one fails the call with
// connect.CodeResourceExhausted.
const DefaultReadMaxBytes = 128 << 20

// New returns a client of the server at baseURL ("http://127.0.0.1:7070").
// What it cannot use fails with an error wrapping mmsb.ErrInvalidOption
// that names it: a base URL that is not http:// or https://, does not
// parse, has no host, or has a query or fragment; a nil Option or connect
// option; negative retries or backoff; a token with a control character;
// WithHTTPClient(nil); WithTLS with an http:// URL or with
// WithHTTPClient; WithPings with a negative value, a zero timeout after a
// nonzero interval, or with WithHTTPClient.
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{retries: 4, backoff: 50 * time.Millisecond, pingAfter: DefaultPingAfter, pingTimeout: DefaultPingTimeout}
	for i, f := range opts {
		if f == nil {
			return nil, fmt.Errorf("%w: client: option %d is nil", mmsb.ErrInvalidOption, i)
		}
		f(&o)
	}
	if err := o.check(baseURL); err != nil {
		return nil, err
	}
	hc := o.hc
	var idle func()
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = o.tls
		tr.MaxIdleConnsPerHost = 64
		// HTTP/1.1 for http:// URLs (any proxy passes it, and the Connect
		// protocol streams over it), HTTP/2 over TLS; gRPC needs HTTP/2, so
		// WithGRPC speaks it in cleartext too.
		var p http.Protocols
		p.SetHTTP2(true)
		if o.grpc {
			p.SetUnencryptedHTTP2(true)
		} else {
			p.SetHTTP1(true)
		}
		tr.Protocols = &p
		if o.pingAfter > 0 {
			// An HTTP/2 connection carries every call to the server: one
			// whose peer vanished without closing it (a hung server, a
			// dropped NAT mapping) would hold each call put on it, those
			// without a context deadline for ever. Until 2026-12-06 it
			// did (TestUnarySilentConnection).
			tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: o.pingAfter, PingTimeout: o.pingTimeout}
		}
		hc = &http.Client{Transport: tr}
		idle = tr.CloseIdleConnections
	}
	closed, closeFn := context.WithCancel(context.Background())
	c := &Client{retries: o.retries, backoff: o.backoff, closed: closed, closeFn: closeFn, idle: idle}
	if len(o.conn) == 0 {
		c.readMax = DefaultReadMaxBytes
	}
	if o.hc == nil {
		c.pingAfter, c.pingTimeout = o.pingAfter, o.pingTimeout
	}
	// The default read limit first, so that WithConnectOptions can raise
	// it (connect.WithReadMaxBytes): without one a server could make the
	// client buffer messages of up to 4 GiB.
	// The server names the mmsb sentinels of its errors (errors.go).
	copts := append([]connect.ClientOption{connect.WithReadMaxBytes(DefaultReadMaxBytes),
		connect.WithInterceptors(closedInterceptor{c}, sentinelInterceptor{c})}, o.conn...)
	if o.grpc {
		copts = append(copts, connect.WithGRPC())
	}
	if o.token != "" {
		copts = append(copts, connect.WithInterceptors(bearer(o.token)))
	}
	// withActivity: a copy of hc whose responses tell a watch's silence
	// watchdog that bytes arrive (stream_activity.go).
	c.rpc = mmsbv1connect.NewBusServiceClient(withActivity(hc), strings.TrimRight(baseURL, "/"), copts...)
	return c, nil
}

// Close ends the client: the watches and log queries in flight end with an
// error wrapping mmsb.ErrClosed, as does every later call (naming it), and
// the idle connections of the HTTP client New made are closed (a unary
// call in flight finishes, and the idle connections are closed again when
// it returns; one that goes back to the pool only after that closes at the
// transport's idle timeout, 90 s). A client given by
// WithHTTPClient is left as it is: it is the caller's. Close is safe to
// call more than once and always returns nil. Until 2026-12-06 there was no
// Close: a client's idle connections, two goroutines each, stayed open
// until the transport's idle timeout (TestCloseReleasesClient).
func (c *Client) Close() error {
	c.closeFn()
	c.closeIdle()
	return nil
}

func (c *Client) closeIdle() {
	if c.idle != nil {
		c.idle()
	}
}

// errIfClosed is the error of a call (what) made after Close, or nil.
func (c *Client) errIfClosed(what string) error {
	if c.closed.Err() != nil {
		return fmt.Errorf("client: %s after Close: %w", what, mmsb.ErrClosed)
	}
	return nil
}

// nilContext refuses a nil ctx given to call what ("Commit"), naming it
// Client.what in the words the bus and tick use (internal/ctxarg): each
// call panicked on it (in connect, or in context.WithCancel) until
// 2026-12-06, and said it in words of its own until 2026-12-07
// (TestClientNilContext).
func nilContext(ctx context.Context, what string) error {
	return ctxarg.Check(ctx, "Client."+what, mmsb.ErrInvalidOption)
}

// closedInterceptor refuses unary calls after Close, and closes the
// connection of one that was in flight when Close ran.
type closedInterceptor struct{ c *Client }

func (i closedInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.c.errIfClosed(req.Spec().Procedure); err != nil {
			return nil, err
		}
		resp, err := next(ctx, req)
		if i.c.closed.Err() != nil {
			i.c.closeIdle()
		}
		return resp, err
	}
}

func (closedInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (closedInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// check refuses options New cannot use, naming the first one wrong: each
// would otherwise fail every call (a URL that does not parse, has no host,
// or has a query or fragment the procedure paths would be appended to; a
// token no header can carry), panic (a nil connect option), or be silently
// unused (a TLS configuration for an http:// URL or a caller's HTTP
// client).
func (o *options) check(baseURL string) error {
	u, err := url.Parse(baseURL)
	// Errors show the URL without its password (a reverse proxy with
	// basic authentication takes one): until 2026-12-06 they quoted it
	// whole, and url.Parse's own error still does (TestNewHidesURLPassword).
	shown := shownURL(baseURL)
	var perr *url.Error
	switch {
	case !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://"):
		return fmt.Errorf("%w: client: base URL %q: want http:// or https://", mmsb.ErrInvalidOption, shown)
	case errors.As(err, &perr):
		return fmt.Errorf("%w: client: base URL %q does not parse: %w", mmsb.ErrInvalidOption, shown, perr.Err)
	case err != nil:
		return fmt.Errorf("%w: client: base URL %q does not parse", mmsb.ErrInvalidOption, shown)
	case u.Host == "":
		return fmt.Errorf("%w: client: base URL %q has no host", mmsb.ErrInvalidOption, shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%w: client: base URL %q has a query or fragment", mmsb.ErrInvalidOption, shown)
	}
	if o.retries < 0 || o.backoff < 0 {
		return fmt.Errorf("%w: client: %d retries, first backoff %v: neither may be negative", mmsb.ErrInvalidOption, o.retries, o.backoff)
	}
	for i, c := range o.token {
		if c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("%w: client: token has control character %q at byte %d: no header can carry it", mmsb.ErrInvalidOption, c, i)
		}
		if unicode.IsSpace(c) {
			return fmt.Errorf("%w: client: token has a space (%q) at byte %d: a token has none", mmsb.ErrInvalidOption, c, i)
		}
	}
	if o.tokenSet && o.token == "" {
		return fmt.Errorf("%w: client: WithToken(\"\"): give the token, or leave the option out to send none (an empty variable?)", mmsb.ErrInvalidOption)
	}
	if o.pingAfter < 0 || o.pingTimeout < 0 || o.pingAfter > 0 && o.pingTimeout == 0 {
		return fmt.Errorf("%w: client: pings after %v, timeout %v: neither may be negative, nor the timeout 0 with pings on", mmsb.ErrInvalidOption, o.pingAfter, o.pingTimeout)
	}
	if o.hcSet && o.hc == nil {
		// Taken for the default until 2026-12-06: a caller's client
		// (a proxy, its own TLS) silently unused (TestNewRefusesBadOptions).
		return fmt.Errorf("%w: client: WithHTTPClient(nil): pass a client, or leave the option out for the default", mmsb.ErrInvalidOption)
	}
	if o.pingSet && o.hc != nil {
		return fmt.Errorf("%w: client: WithPings with WithHTTPClient: the health check belongs in that client's transport (http.Transport.HTTP2)", mmsb.ErrInvalidOption)
	}
	// Whether WithTLS was given, not its value: WithTLS(nil) slipped
	// past both checks until 2026-12-07 (TestClientLocalRefusals).
	if o.tlsSet && o.hc != nil {
		return fmt.Errorf("%w: client: WithTLS with WithHTTPClient: the TLS configuration belongs in that client's transport", mmsb.ErrInvalidOption)
	}
	if o.tlsSet && u.Scheme != "https" {
		return fmt.Errorf("%w: client: WithTLS with base URL %q: TLS needs https://", mmsb.ErrInvalidOption, shown)
	}
	for i, c := range o.conn {
		if c == nil {
			return fmt.Errorf("%w: client: connect option %d is nil", mmsb.ErrInvalidOption, i)
		}
	}
	return nil
}

// shownURL is rawURL as errors show it: the password of its user
// information, if any, replaced by "xxxxx" (as url.URL.Redacted does),
// also where the URL does not parse.
func shownURL(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return rawURL
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return rawURL
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// bearer adds the token to every request (unary and streaming).
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// retryable says whether an idempotent call may be repeated after err.
func retryable(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnavailable
}

// noRetry marks an error that idempotent returns as it is, unretried.
type noRetry struct{ err error }

func (e *noRetry) Error() string { return e.err.Error() }

// idempotent runs call, retrying Unavailable errors with backoff. When ctx
// ends while it waits, its error wraps ctx.Err() and the last error.
func idempotent[T any](ctx context.Context, c *Client, call func() (T, error)) (T, error) {
	wait := c.backoff
	for attempt := 0; ; attempt++ {
		v, err := call()
		if nr := (*noRetry)(nil); errors.As(err, &nr) {
			return v, nr.err
		}
		if err == nil || attempt >= c.retries || !retryable(err) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-c.closed.Done():
			t.Stop()
			return v, fmt.Errorf("client: closed while waiting to retry, after %d tries: %w (the last: %w)", attempt+1, mmsb.ErrClosed, err)
		case <-ctx.Done():
			t.Stop()
			// Both: the caller's cancellation (errors.Is) and the
			// server's last answer (connect.CodeOf). Until 2026-12-06
			// only the answer, as if the retries had run out
			// (TestRetryCanceledSaysSo).
			return v, fmt.Errorf("client: %w while waiting to retry, after %d tries: %w", ctx.Err(), attempt+1, err)
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// CreatePages creates pages in one batch (all or none) and returns their
// IDs (a spec's own ID where it names one). mmsb.ErrPageExists (code
// AlreadyExists) for an ID taken, mmsb.ErrInvalidPage for a bad size. An
// answer that is not one distinct, non-zero ID per page, a spec's own
// where it names one, is refused with ErrBadResponse.
func (c *Client) CreatePages(ctx context.Context, specs []mmsb.PageSpec) ([]mmsb.PageID, error) {
	if err := nilContext(ctx, "CreatePages"); err != nil {
		return nil, err
	}
	req := &mmsbv1.CreatePagesRequest{Pages: make([]*mmsbv1.PageSpec, len(specs))}
	for i, s := range specs {
		if s.Size < 0 || s.Size > mmsb.MaxPageSize {
			return nil, fmt.Errorf("%w: page size %d", mmsb.ErrInvalidPage, s.Size)
		}
		if s.Location != mmsb.CPU {
			// The wire has no location: sent as a CPU page until
			// 2026-12-07 (TestClientLocalRefusals). The bus's words.
			// (The bus names the ID it would give; here it is unknown.)
			name := fmt.Sprintf("page %d", s.ID)
			if s.ID == 0 {
				name = fmt.Sprintf("page spec %d", i)
			}
			return nil, fmt.Errorf("%w: %s location %v: no device backend exists, only cpu is supported", mmsb.ErrInvalidPage, name, s.Location)
		}
		for j := range s.Meta {
			if err := checkText("CreatePages", fmt.Sprintf("page spec %d metadata key", i), s.Meta[j].Key); err != nil {
				return nil, err
			}
		}
		req.Pages[i] = &mmsbv1.PageSpec{Id: uint64(s.ID), Size: uint32(s.Size), Meta: wire.MetaToProto(s.Meta)}
	}
	resp, err := c.rpc.CreatePages(ctx, connect.NewRequest(req))
	if err != nil {
		// Pages created before the call failed come named in a
		// CreatePagesResponse detail.
		if r, ok := appliedAnswer[*mmsbv1.CreatePagesResponse](err); ok && len(r.GetIds()) > 0 {
			ids, ierr := createdIDs(r, specs)
			if ierr != nil {
				// Still uncertain: the server says pages were created,
				// only not which (TestAppliedAnswerMalformedStaysUncertain).
				return nil, fmt.Errorf("%w: %w (and the server's error: %w)", ErrCommitUncertain, ierr, err)
			}
			return ids, fmt.Errorf("%w: pages %d..%d: %w", ErrCommitUncertain, ids[0], ids[len(ids)-1], err)
		}
		return nil, err
	}
	return createdIDs(resp.Msg, specs)
}

// appliedAnswer returns the answer of type T that a server error carries
// as a detail when the bus logged and applied the write before it failed
// (the server's appliedThenFailed).
func appliedAnswer[T any](err error) (T, bool) {
	var zero T
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return zero, false
	}
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if r, ok := m.(T); ok {
				return r, true
			}
		}
	}
	return zero, false
}

// createdIDs are the IDs of a CreatePages answer, one per page asked:
// none 0 (no page has ID 0), none twice, and a spec's own ID where it
// names one. Until 2026-12-06 any IDs of the right count were returned,
// and a caller wrote to page 0 or to another page than the one it asked
// for (TestCreatePagesAnswerChecked).
func createdIDs(r *mmsbv1.CreatePagesResponse, specs []mmsb.PageSpec) ([]mmsb.PageID, error) {
	n := len(specs)
	if len(r.GetIds()) != n {
		return nil, fmt.Errorf("%w: CreatePages: %d IDs answered for %d pages asked", ErrBadResponse, len(r.GetIds()), n)
	}
	ids := make([]mmsb.PageID, n)
	for i, id := range r.GetIds() {
		ids[i] = mmsb.PageID(id)
		if id == 0 || specs[i].ID != 0 && ids[i] != specs[i].ID {
			return nil, fmt.Errorf("%w: CreatePages: page %d answered with ID %d, asked for ID %d (0: any)", ErrBadResponse, i, id, specs[i].ID)
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	for i := 1; i < n; i++ {
		if sorted[i] == sorted[i-1] {
			return nil, fmt.Errorf("%w: CreatePages: ID %d answered for two pages", ErrBadResponse, sorted[i])
		}
	}
	return ids, nil
}

// CreatePage creates one page and returns its ID. With ErrCommitUncertain
// it returns the ID too, as CreatePages does (the page exists, and may or
// may not survive a restart); it returned 0 until 2026-12-06
// (TestCreatePageUncertainKeepsID).
func (c *Client) CreatePage(ctx context.Context, spec mmsb.PageSpec) (mmsb.PageID, error) {
	if err := nilContext(ctx, "CreatePage"); err != nil {
		return 0, err
	}
	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{spec})
	if len(ids) != 1 {
		return 0, err
	}
	return ids[0], err
}

// FreePage frees a page: mmsb.ErrPageNotFound (code NotFound) for an
// unknown one, mmsb.ErrPageInUse (FailedPrecondition) for one with
// dependency edges or a binding.
func (c *Client) FreePage(ctx context.Context, id mmsb.PageID) error {
	if err := nilContext(ctx, "FreePage"); err != nil {
		return err
	}
	_, err := c.rpc.FreePage(ctx, connect.NewRequest(&mmsbv1.FreePageRequest{Page: uint64(id)}))
	return err
}

// SetMetadata replaces a page's metadata: mmsb.ErrPageNotFound (code
// NotFound) for an unknown page.
func (c *Client) SetMetadata(ctx context.Context, id mmsb.PageID, entries []mmsb.MetaEntry) error {
	if err := nilContext(ctx, "SetMetadata"); err != nil {
		return err
	}
	for i := range entries {
		if err := checkText("SetMetadata", fmt.Sprintf("entry %d key", i), entries[i].Key); err != nil {
			return err
		}
	}
	_, err := c.rpc.SetMetadata(ctx, connect.NewRequest(&mmsbv1.SetMetadataRequest{Page: uint64(id), Meta: wire.MetaToProto(entries)}))
	return err
}

// Commit commits ds as one atomic batch, like Bus.Commit: it fills each
// delta's LSN, Epoch and Time. An epoch conflict is a connect error with
// code Aborted wrapping mmsb.ErrConflict; it is never retried. A bad delta
// is refused (InvalidArgument, mmsb.ErrInvalidDelta; NotFound,
// mmsb.ErrPageNotFound) with nothing applied; ErrCommitUncertain means
// the batch was applied, then the commit failed.
func (c *Client) Commit(ctx context.Context, ds []mmsb.Delta) (mmsb.CommitInfo, error) {
	if err := nilContext(ctx, "Commit"); err != nil {
		return mmsb.CommitInfo{}, err
	}
	if err := checkDeltas("Commit", ds); err != nil {
		return mmsb.CommitInfo{}, err
	}
	// The request is encoded before Commit returns: it may alias ds.
	req := &mmsbv1.CommitRequest{Deltas: wire.DeltasToProtoAliased(ds)}
	resp, err := c.rpc.Commit(ctx, connect.NewRequest(req))
	if err != nil {
		// A batch logged and applied before the commit failed comes
		// named in a CommitResponse detail.
		if r, ok := appliedAnswer[*mmsbv1.CommitResponse](err); ok && r.GetFirstLsn() != 0 {
			info, ferr := fillCommit(ds, r)
			if ferr != nil {
				// Still uncertain: the server says the batch was logged
				// and applied, only not at which LSNs. Until 2026-12-06
				// the error wrapped ErrBadResponse alone, and a caller
				// checking ErrCommitUncertain before committing again
				// would commit the batch twice
				// (TestAppliedAnswerMalformedStaysUncertain).
				return mmsb.CommitInfo{}, fmt.Errorf("%w: %w (and the server's error: %w)", ErrCommitUncertain, ferr, err)
			}
			return info, fmt.Errorf("%w: LSNs %d..%d: %w", ErrCommitUncertain, info.FirstLSN, info.LastLSN, err)
		}
		return mmsb.CommitInfo{}, err
	}
	return fillCommit(ds, resp.Msg)
}

// checkDeltas refuses locally what the wire cannot carry: a form it has
// no value for (sent as an empty runs delta until 2026-12-07, refused as
// "no runs"), and a Source that is not UTF-8 text (a protobuf string:
// Commit failed with code Internal, Submit stored it escaped, until
// 2026-12-07; TestClientLocalRefusals).
func checkDeltas(call string, ds []mmsb.Delta) error {
	for i := range ds {
		d := &ds[i]
		switch d.Form {
		case mmsb.FormRuns, mmsb.FormMaskedDense, mmsb.FormMaskedSparse:
		default:
			return fmt.Errorf("%w: %s: delta %d: page %d: unknown form %d", mmsb.ErrInvalidDelta, call, i, d.Page, d.Form)
		}
		if err := checkText(call, fmt.Sprintf("delta %d (page %d) source", i, d.Page), d.Source); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses a string that is not valid UTF-8: the network API
// carries text as protobuf strings (docs/server.md).
func checkText(call, what, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	return fmt.Errorf("%w: client: %s: %s %q is not valid UTF-8 (the network API carries UTF-8 text only)", mmsb.ErrInvalidOption, call, what, cut(s))
}

// cut shortens s for an error message.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// fillCommit sets each delta's LSN, Epoch and Time from the server's
// answer, which must name one LSN and one epoch per delta.
func fillCommit(ds []mmsb.Delta, m *mmsbv1.CommitResponse) (mmsb.CommitInfo, error) {
	info := mmsb.CommitInfo{FirstLSN: mmsb.LSN(m.GetFirstLsn()), LastLSN: mmsb.LSN(m.GetLastLsn()), Time: m.GetTime()}
	if info.FirstLSN == 0 || info.LastLSN < info.FirstLSN || uint64(info.LastLSN-info.FirstLSN) != uint64(len(ds)-1) || len(m.GetEpochs()) != len(ds) {
		return mmsb.CommitInfo{}, fmt.Errorf("%w: Commit: LSNs %d..%d and %d epochs answered for %d deltas",
			ErrBadResponse, info.FirstLSN, info.LastLSN, len(m.GetEpochs()), len(ds))
	}
	for i := range ds {
		ds[i].LSN, ds[i].Time, ds[i].Epoch = info.FirstLSN+mmsb.LSN(i), info.Time, mmsb.Epoch(m.GetEpochs()[i])
	}
	return info, nil
}

// Submit queues deltas into the server's tick orchestrator (the server must
// run with --ticks), all or none (tick.Orchestrator.SubmitBatch): an error
// the server answers means none of ds was queued (a bad delta, named by
// index; the queue full with FailWhenFull; more deltas than the queue
// holds), so the same call may be made again without submitting a delta
// twice. A transport error (the connection lost before the answer) leaves
// it unknown whether the batch was queued; Submit is never retried by
// itself. Queued deltas are committed by the server's ticks, each one
// validated again there (an expected epoch is checked only then).
func (c *Client) Submit(ctx context.Context, ds []mmsb.Delta) error {
	if err := nilContext(ctx, "Submit"); err != nil {
		return err
	}
	if err := checkDeltas("Submit", ds); err != nil {
		return err
	}
	req := &mmsbv1.SubmitRequest{Deltas: make([]*mmsbv1.Delta, len(ds))}
	for i := range ds {
		req.Deltas[i] = wire.DeltaToProto(&ds[i])
	}
	resp, err := c.rpc.Submit(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	if n := resp.Msg.GetAccepted(); n != uint32(len(ds)) {
		return fmt.Errorf("%w: Submit: %d deltas accepted of %d sent", ErrBadResponse, n, len(ds))
	}
	return nil
}

// ReadRange reads n bytes at off of page id (n 0: to the end), with the
// page's epoch and the LSN the read saw: mmsb.ErrPageNotFound (code
// NotFound) for an unknown page, mmsb.ErrOutOfRange (InvalidArgument) for
// a range past its end.
func (c *Client) ReadRange(ctx context.Context, id mmsb.PageID, off, n uint32) ([]byte, mmsb.Epoch, mmsb.LSN, error) {
	if err := nilContext(ctx, "ReadRange"); err != nil {
		return nil, 0, 0, err
	}
	return c.read(ctx, id, off, n, 0)
}

// ReadPage returns page id's bytes, its epoch and the LSN the read saw
// (mmsb.ErrPageNotFound, code NotFound, for an unknown page).
func (c *Client) ReadPage(ctx context.Context, id mmsb.PageID) ([]byte, mmsb.Epoch, mmsb.LSN, error) {
	if err := nilContext(ctx, "ReadPage"); err != nil {
		return nil, 0, 0, err
	}
	return c.read(ctx, id, 0, 0, 0)
}

// ReadPageAt returns page id's bytes and epoch as of LSN lsn:
// mmsb.ErrInvalidOption for lsn 0 (before the call) or after the server's
// last LSN (code InvalidArgument), mmsb.ErrPageNotFound (NotFound) for a
// page that did not exist then. The server replays the log to lsn: it can
// wait for a replay slot (docs/server.md). An lsn inside a batch (a Commit
// of several deltas, a propagation wave) reads the state at the batch's
// end, as mmsb.Bus.ReadPageAt does: no read sees half a batch.
func (c *Client) ReadPageAt(ctx context.Context, id mmsb.PageID, lsn mmsb.LSN) ([]byte, mmsb.Epoch, error) {
	if err := nilContext(ctx, "ReadPageAt"); err != nil {
		return nil, 0, err
	}
	if lsn == 0 {
		return nil, 0, fmt.Errorf("%w: ReadPageAt needs an LSN >= 1", mmsb.ErrInvalidOption)
	}
	b, e, _, err := c.read(ctx, id, 0, 0, lsn)
	return b, e, err
}

func (c *Client) read(ctx context.Context, id mmsb.PageID, off, n uint32, at mmsb.LSN) ([]byte, mmsb.Epoch, mmsb.LSN, error) {
	resp, err := c.Read(ctx, []*mmsbv1.ReadItem{{Page: uint64(id), Off: off, Length: n}}, at)
	if err != nil {
		return nil, 0, 0, err
	}
	p := resp.GetPages()[0]
	return p.GetData(), mmsb.Epoch(p.GetEpoch()), mmsb.LSN(resp.GetLsn()), nil
}

// Read reads several pages or ranges at one LSN (as of asOf when non-zero).
// The answer's Lsn is the LSN its state is at: as of an asOf inside a
// batch (a Commit of several deltas, a propagation wave, a CreatePages),
// the batch's last LSN, whose state the pages hold (no read sees half a
// batch); asOf itself when asOf ends its batch.
// A nil item is refused with mmsb.ErrInvalidOption; an answer that is not
// of the items asked for (count, page, offset, range length, an LSN
// before asOf) with ErrBadResponse.
func (c *Client) Read(ctx context.Context, items []*mmsbv1.ReadItem, asOf mmsb.LSN) (*mmsbv1.ReadResponse, error) {
	if err := nilContext(ctx, "Read"); err != nil {
		return nil, err
	}
	for i, it := range items {
		if it == nil {
			return nil, fmt.Errorf("%w: client: Read: item %d is nil", mmsb.ErrInvalidOption, i)
		}
	}
	req := &mmsbv1.ReadRequest{Items: items, AsOfLsn: uint64(asOf)}
	resp, err := idempotent(ctx, c, func() (*connect.Response[mmsbv1.ReadResponse], error) {
		return c.rpc.Read(ctx, connect.NewRequest(req))
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Msg.GetPages()) != len(items) {
		return nil, fmt.Errorf("%w: Read: %d pages answered for %d asked", ErrBadResponse, len(resp.Msg.GetPages()), len(items))
	}
	if err := checkRead(items, asOf, resp.Msg); err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// checkRead refuses, with ErrBadResponse, a Read answer whose pages are
// not the items asked for: another page or offset, a range of another
// length, or an LSN before asOf (the answer's LSN is the end of the batch
// holding asOf: asOf or later). Until 2026-12-05 only the count was
// checked, and ReadRange handed a caller who asked for n bytes fewer (it
// indexed out of range) or another page's bytes (TestClientBadInput).
func checkRead(items []*mmsbv1.ReadItem, asOf mmsb.LSN, m *mmsbv1.ReadResponse) error {
	for i, p := range m.GetPages() {
		it := items[i]
		if p.GetPage() != it.GetPage() || p.GetOff() != it.GetOff() {
			return fmt.Errorf("%w: Read: item %d asked for page %d at offset %d, answered page %d at offset %d",
				ErrBadResponse, i, it.GetPage(), it.GetOff(), p.GetPage(), p.GetOff())
		}
		if n := it.GetLength(); n != 0 && uint64(len(p.GetData())) != uint64(n) {
			return fmt.Errorf("%w: Read: item %d (page %d) asked for %d bytes, answered %d", ErrBadResponse, i, it.GetPage(), n, len(p.GetData()))
		}
	}
	// An answer as of an LSN inside a batch is at the batch's end, a
	// later LSN (until 2026-12-07 the server answered the LSN asked for
	// the batch end's bytes): an earlier one is not the state asked for.
	if asOf != 0 && mmsb.LSN(m.GetLsn()) < asOf {
		return fmt.Errorf("%w: Read: asked as of LSN %d, answered as of the earlier LSN %d", ErrBadResponse, asOf, m.GetLsn())
	}
	return nil
}

// ListPages returns up to limit pages with IDs above after, in ID order,
// and the after to pass for the next page of results (0 when done). A
// limit of 0 takes the server's default, 1000 pages; the server caps a
// limit at 10000 (a negative one is mmsb.ErrInvalidOption). An
// answer that is not such a page of the listing (more pages than limit,
// IDs out of order or not above after, another next_after_id than the
// last page's) is refused with ErrBadResponse.
func (c *Client) ListPages(ctx context.Context, after mmsb.PageID, limit int) ([]mmsb.PageInfo, mmsb.PageID, error) {
	if err := nilContext(ctx, "ListPages"); err != nil {
		return nil, 0, err
	}
	if limit < 0 {
		return nil, 0, fmt.Errorf("%w: negative limit", mmsb.ErrInvalidOption)
	}
	req := &mmsbv1.ListPagesRequest{AfterId: uint64(after), Limit: uint32(min(limit, 1<<30))}
	resp, err := idempotent(ctx, c, func() (*connect.Response[mmsbv1.ListPagesResponse], error) {
		return c.rpc.ListPages(ctx, connect.NewRequest(req))
	})
	if err != nil {
		return nil, 0, err
	}
	if err := checkList(after, limit, resp.Msg); err != nil {
		return nil, 0, err
	}
	out := make([]mmsb.PageInfo, len(resp.Msg.GetPages()))
	for i, p := range resp.Msg.GetPages() {
		out[i] = mmsb.PageInfo{ID: mmsb.PageID(p.GetId()), Size: int(p.GetSize()), Location: mmsb.CPU, Epoch: mmsb.Epoch(p.GetEpoch()),
			LastLSN: mmsb.LSN(p.GetLastLsn()), Flags: uint8(p.GetFlags()), Meta: wire.MetaFromProto(p.GetMeta()), Derived: p.GetDerived()}
	}
	return out, mmsb.PageID(resp.Msg.GetNextAfterId()), nil
}

// checkList refuses, with ErrBadResponse, a ListPages answer that is not
// a page of the listing asked for: more pages than limit (when not 0, the
// server's default), IDs not strictly ascending above after, or a
// next_after_id that is neither 0 nor the last page's ID. Until
// 2026-12-06 it was delivered as it came, and PageIDs returned a page
// twice, or out of order, when the server repeated or shuffled pages
// (TestListPagesAnswerChecked).
func checkList(after mmsb.PageID, limit int, m *mmsbv1.ListPagesResponse) error {
	ps := m.GetPages()
	if limit > 0 && len(ps) > limit {
		return fmt.Errorf("%w: ListPages: %d pages answered, limit %d", ErrBadResponse, len(ps), limit)
	}
	prev := uint64(after)
	for i, p := range ps {
		if p.GetId() <= prev {
			return fmt.Errorf("%w: ListPages: page %d answered at place %d, after page %d: IDs must ascend above %d",
				ErrBadResponse, p.GetId(), i, prev, after)
		}
		prev = p.GetId()
	}
	switch next := m.GetNextAfterId(); {
	case next != 0 && len(ps) == 0:
		// Asking again after it may never end (PageIDs).
		return fmt.Errorf("%w: ListPages: next_after_id %d answered with no page", ErrBadResponse, next)
	case next != 0 && next != prev:
		return fmt.Errorf("%w: ListPages: next_after_id %d answered with %d pages, the last %d", ErrBadResponse, next, len(ps), prev)
	}
	return nil
}

// PageIDs returns every live page ID, paging through ListPages. A server
// whose cursor does not advance, or names a next page after answering
// none, is refused with ErrBadResponse rather than asked again.
func (c *Client) PageIDs(ctx context.Context) ([]mmsb.PageID, error) {
	if err := nilContext(ctx, "PageIDs"); err != nil {
		return nil, err
	}
	var ids []mmsb.PageID
	after := mmsb.PageID(0)
	for {
		ps, next, err := c.ListPages(ctx, after, 10000)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if next == 0 {
			return ids, nil
		}
		if len(ps) == 0 {
			// The server names a next_after_id only after a page it
			// listed; without one, asking again may never end.
			return nil, fmt.Errorf("%w: PageIDs: no page answered, yet next_after_id %d after %d", ErrBadResponse, next, after)
		}
		if next <= after {
			return nil, fmt.Errorf("%w: PageIDs: next_after_id %d answered after %d", ErrBadResponse, next, after)
		}
		after = next
	}
}

// QueryLog streams the logged operations matching q, in LSN order, until fn
// returns false. A broken stream is retried from the start only if no
// operation was delivered yet; otherwise its error is returned, wrapped
// (connect.CodeOf still gives its code). Operations that do not come in
// ascending LSN order (one repeated, or one below the one before), and
// operations q does not ask for (another page, kind or source, outside
// its LSN or time range), are refused with ErrBadResponse. Close ends it
// with an error wrapping mmsb.ErrClosed. A nil fn, and a kind in q.Kinds
// that is none, are refused with mmsb.ErrInvalidOption, as the bus
// refuses them; so is a ToTime before FromTime, by the server. A wave op
// (mmsb.OpWave) comes with Page 0 and without the Dirty and Held sets the
// bus's own QueryLog gives: the wire does not carry them.
func (c *Client) QueryLog(ctx context.Context, q mmsb.LogQuery, fn func(*mmsb.LoggedOp) bool) error {
	if err := nilContext(ctx, "QueryLog"); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("%w: client: QueryLog with a nil function", mmsb.ErrInvalidOption)
	}
	if err := checkText("QueryLog", "query source", q.Source); err != nil {
		return err
	}
	req := &mmsbv1.QueryLogRequest{Page: uint64(q.Page), FromLsn: uint64(q.FromLSN), ToLsn: uint64(q.ToLSN),
		FromTime: q.FromTime, ToTime: q.ToTime, Source: q.Source}
	for i, k := range q.Kinds {
		if _, ok := wire.OpKinds[k.String()]; !ok {
			// As the bus refuses it. The server's refusal named no
			// sentinel until 2026-12-06 (TestQueryLogBadKind).
			return fmt.Errorf("%w: client: QueryLog: Kinds[%d] is %v, not an operation kind", mmsb.ErrInvalidOption, i, k)
		}
		req.Kinds = append(req.Kinds, k.String())
	}
	if err := c.errIfClosed("QueryLog"); err != nil {
		return err
	}
	delivered := 0
	var last uint64 // the LSN of the last operation delivered
	_, err := idempotent(ctx, c, func() (struct{}, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(c.closed, cancel)()
		stream, err := c.rpc.QueryLog(ctx, connect.NewRequest(req))
		if err != nil {
			return struct{}{}, err
		}
		defer func() { _ = stream.Close() }()
		for stream.Receive() {
			for _, p := range stream.Msg().GetOps() {
				if p.GetLsn() <= last {
					// Each operation has an LSN of its own, and they come
					// in LSN order: a repeated or earlier one reached fn
					// as it came until 2026-12-06 (TestQueryLogRefusesOpsOutOfOrder).
					return struct{}{}, &noRetry{fmt.Errorf("%w: QueryLog: operation at LSN %d after one at LSN %d: operations must come in ascending LSN order",
						ErrBadResponse, p.GetLsn(), last)}
				}
				lo, err := opFromProto(p)
				if err == nil {
					err = checkLogMatch(&q, &lo)
				}
				if err != nil {
					// The same operation would come again on a retry.
					return struct{}{}, &noRetry{err}
				}
				delivered, last = delivered+1, p.GetLsn()
				if !fn(&lo) {
					return struct{}{}, nil
				}
			}
		}
		err = c.silent("QueryLog", c.readLimitError("QueryLog", withSentinels(lostConnection(ctx, stream.Err()))))
		if err != nil && delivered > 0 {
			// Retrying would deliver those operations again.
			return struct{}{}, &noRetry{fmt.Errorf("client: QueryLog: the stream broke after %d operations: %w", delivered, err)}
		}
		return struct{}{}, err
	})
	if err != nil && !errors.Is(err, mmsb.ErrClosed) && c.closed.Err() != nil {
		return fmt.Errorf("client: QueryLog ended by Close: %w (%w)", mmsb.ErrClosed, err)
	}
	return err
}

// checkLogMatch refuses, with ErrBadResponse, an operation q does not
// match (as mmsb.LogQuery matches on the bus: LSN and time range, kinds,
// source, page): the server sends none. Until 2026-12-06 such operations
// reached fn, an application reading one page's history got another's
// (TestQueryLogRefusesUnmatchedOps).
func checkLogMatch(q *mmsb.LogQuery, lo *mmsb.LoggedOp) error {
	op := lo.Op
	why := ""
	isDelta := op.Kind == mmsb.OpDelta || op.Kind == mmsb.OpDerived
	switch {
	case q.FromLSN != 0 && lo.LSN < q.FromLSN || q.ToLSN != 0 && lo.LSN > q.ToLSN:
		why = fmt.Sprintf("outside LSNs %d..%d", q.FromLSN, q.ToLSN)
	case q.FromTime != 0 && lo.Time < q.FromTime || q.ToTime != 0 && lo.Time > q.ToTime:
		why = fmt.Sprintf("at time %d, outside %d..%d", lo.Time, q.FromTime, q.ToTime)
	case len(q.Kinds) > 0 && !slices.Contains(q.Kinds, op.Kind):
		why = fmt.Sprintf("of kind %s, not one of %v", op.Kind, q.Kinds)
	case q.Source != "" && (!isDelta || op.Delta.Source != q.Source):
		why = fmt.Sprintf("not of source %q", q.Source)
	case q.Page != 0 && !opOfPage(op, q.Page):
		why = fmt.Sprintf("not of page %d", q.Page)
	}
	if why != "" {
		return fmt.Errorf("%w: QueryLog: operation at LSN %d (%s) %s, which the query does not ask for", ErrBadResponse, lo.LSN, op.Kind, why)
	}
	return nil
}

// opOfPage says whether op is about page p as a query by page takes it:
// an edge operation by its parent or child, another by its page.
func opOfPage(op *mmsb.Op, p mmsb.PageID) bool {
	if op.Kind == mmsb.OpAddEdge || op.Kind == mmsb.OpRemoveEdge {
		return op.Parent == p || op.Child == p
	}
	return wire.OpPage(op) == p
}

// opFromProto decodes one operation of QueryLog, refusing what
// wire.OpFromProto would turn into a zero kind or an empty delta (until
// 2026-12-04 delivered as such: TestQueryLogUndecodableOp).
func opFromProto(p *mmsbv1.Op) (mmsb.LoggedOp, error) {
	if _, ok := wire.OpKinds[p.GetKind()]; !ok {
		return mmsb.LoggedOp{}, fmt.Errorf("%w: QueryLog: operation at LSN %d has unknown kind %q", ErrBadResponse, p.GetLsn(), p.GetKind())
	}
	if err := deltaPresence("QueryLog: operation", p.GetLsn(), p.GetKind(), p.GetDelta() != nil); err != nil {
		// Delivered with a zero delta, or with one where the kind has
		// none, until 2026-12-04 (TestBadResponses).
		return mmsb.LoggedOp{}, err
	}
	if p.GetDelta() != nil {
		// Decoding aliases p's bytes: checking first costs no copy.
		d, err := wire.DeltaFromProto(p.GetDelta(), "", nil)
		if err != nil {
			return mmsb.LoggedOp{}, fmt.Errorf("client: QueryLog: operation at LSN %d: %w", p.GetLsn(), err)
		}
		if uint64(d.Page) != p.GetPage() {
			// LoggedOp.Op.Page and Op.Delta.Page disagreed, until
			// 2026-12-04 (TestBadResponses).
			return mmsb.LoggedOp{}, fmt.Errorf("%w: QueryLog: operation at LSN %d names page %d and carries a delta of page %d",
				ErrBadResponse, p.GetLsn(), p.GetPage(), d.Page)
		}
	}
	if b := p.GetBatchLast(); b != 0 && b < p.GetLsn() {
		// 0 is a server before 2026-12-07, which does not send it.
		return mmsb.LoggedOp{}, fmt.Errorf("%w: QueryLog: operation at LSN %d says its batch ends at the earlier LSN %d",
			ErrBadResponse, p.GetLsn(), b)
	}
	return wire.OpFromProto(p), nil
}

// Provenance asks which operations wrote bytes [off, off+n) of page id,
// following depth derivation hops (as mmsb.ProvenanceOptions.Depth; a
// depth beyond an int32 is clamped to one). An answer with a write of an
// unknown kind, or a Parent that is not -1 for the first write and an
// earlier write's index for the others, is refused with ErrBadResponse.
func (c *Client) Provenance(ctx context.Context, id mmsb.PageID, off, n, depth int) (*mmsb.ProvenanceResult, error) {
	if err := nilContext(ctx, "Provenance"); err != nil {
		return nil, err
	}
	if n <= 0 || off < 0 {
		return nil, fmt.Errorf("%w: provenance range off %d n %d of page %d: the offset must be 0 or more and the length 1 or more", mmsb.ErrInvalidOption, off, n, id)
	}
	if off > mmsb.MaxPageSize || n > mmsb.MaxPageSize-off {
		// The bus's sentinel and words (ErrInvalidOption until
		// 2026-12-07: TestClientLocalRefusals).
		return nil, fmt.Errorf("%w: provenance range [%d, %d+%d) of page %d is past the largest page size %d", mmsb.ErrOutOfRange, off, off, n, id, mmsb.MaxPageSize)
	}
	// The depth travels as an int32: clamped, not truncated (1<<31 became
	// -1<<31, "the direct writer only"; 1<<32 became 0, the default).
	req := &mmsbv1.ProvenanceRequest{Page: uint64(id), Off: uint32(off), Length: uint32(n),
		Depth: int32(min(max(depth, math.MinInt32), math.MaxInt32))}
	resp, err := idempotent(ctx, c, func() (*connect.Response[mmsbv1.ProvenanceResponse], error) {
		return c.rpc.Provenance(ctx, connect.NewRequest(req))
	})
	if err != nil {
		return nil, err // over the read limit: named by sentinelInterceptor
	}
	return provenanceFromProto(resp.Msg, id, off, n)
}

// readLimitError names the call and the bound to raise on an answer the
// client's read limit refused (connect's own message, "message size N is
// larger than configured max M", names neither): a Provenance answer's
// first write is sent whole, and so is a QueryLog or Watch message's
// last operation, with an intent of up to a log record
// (TestProvenanceAnswerOverReadLimit, TestStreamOverReadLimit). It
// quotes the limit only when the client knows it (Client.readMax): it
// quoted DefaultReadMaxBytes' value beside connect's own number also when
// WithConnectOptions had set another (TestReadLimitErrorQuotesLimitInForce).
// Other errors are returned as they are.
func (c *Client) readLimitError(call string, err error) error {
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "larger than configured max") {
		return err
	}
	if c.readMax > 0 {
		return fmt.Errorf("client: %s: the answer is larger than this client reads (%d bytes, DefaultReadMaxBytes; raise it with WithConnectOptions(connect.WithReadMaxBytes(n))): %w",
			call, c.readMax, err)
	}
	return fmt.Errorf("client: %s: the answer is larger than this client reads (the limit its WithConnectOptions set, else DefaultReadMaxBytes; raise it with connect.WithReadMaxBytes(n)): %w",
		call, err)
}

// provenanceFromProto decodes a Provenance answer, refusing with
// ErrBadResponse what mmsb.ProvenanceResult cannot hold: a kind this
// client does not know (it became kind 0, the mark of a lost write), or a
// Parent that is not -1 for the first write and the index of an earlier
// write for the others (a caller following it indexed out of range).
func provenanceFromProto(m *mmsbv1.ProvenanceResponse, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
	r := &mmsb.ProvenanceResult{Page: id, Off: off, N: n, Truncated: m.GetTruncated()}
	for i, w := range m.GetWrites() {
		kind, ok := wire.OpKinds[w.GetKind()]
		if !ok && w.GetKind() != "" {
			return nil, fmt.Errorf("%w: Provenance: write %d (LSN %d) has unknown kind %q", ErrBadResponse, i, w.GetLsn(), w.GetKind())
		}
		// The first write has parent -1, every other an earlier write's
		// index: a parent below -1 (say -7) passed this check until
		// 2026-12-05, and a caller following Parent indexed out of range.
		if p := int(w.GetParent()); (i == 0) != (p == -1) || p < -1 || p >= i {
			return nil, fmt.Errorf("%w: Provenance: write %d names parent %d", ErrBadResponse, i, p)
		}
		r.Writes = append(r.Writes, mmsb.ProvenanceWrite{Page: mmsb.PageID(w.GetPage()), LSN: mmsb.LSN(w.GetLsn()),
			Kind: kind, Lo: w.GetLo(), Hi: w.GetHi(), Derived: w.GetDerived(), Source: w.GetSource(),
			Intent: w.GetIntent(), Time: w.GetTime(), Depth: int(w.GetDepth()), Parent: int(w.GetParent()), Lost: w.GetLost()})
		r.ChainDepth = max(r.ChainDepth, int(w.GetDepth()))
	}
	return r, nil
}

// AddEdge adds a dependency edge parent -> child: mmsb.ErrPageNotFound
// (code NotFound) for an unknown page, mmsb.ErrCycle (InvalidArgument)
// for an edge that would close a cycle; an unknown edge type is refused with
// mmsb.ErrInvalidOption before the call.
func (c *Client) AddEdge(ctx context.Context, parent, child mmsb.PageID, typ mmsb.EdgeType) error {
	if err := nilContext(ctx, "AddEdge"); err != nil {
		return err
	}
	pt, err := edgeType("AddEdge", typ)
	if err != nil {
		return err
	}
	_, err = c.rpc.AddEdge(ctx, connect.NewRequest(&mmsbv1.AddEdgeRequest{Parent: uint64(parent), Child: uint64(child), Type: pt}))
	return err
}

// edgeType is typ on the wire, for call what. An edge type the bus does
// not define is refused with mmsb.ErrInvalidOption, as the bus refuses
// it: until 2026-12-06 the wire's conversion made it a Data edge, so
// AddEdge added one (driving recomputation) and RemoveEdge removed one
// (TestEdgeTypeChecked).
func edgeType(what string, typ mmsb.EdgeType) (mmsbv1.EdgeType, error) {
	switch typ {
	case mmsb.EdgeData, mmsb.EdgeControl, mmsb.EdgeGPUSync, mmsb.EdgeCompiler:
		return wire.EdgeTypeToProto(typ), nil
	}
	return 0, fmt.Errorf("%w: client: %s: unknown edge type %d", mmsb.ErrInvalidOption, what, typ)
}

// RemoveEdge removes the edge parent -> child of type typ (no error if
// there is none); typ mmsb.AllEdgeTypes removes every type, as
// RemoveEdges. An unknown edge type is refused with mmsb.ErrInvalidOption;
// the Data edge of a binding with mmsb.ErrPageInUse (code
// FailedPrecondition: Unbind instead).
func (c *Client) RemoveEdge(ctx context.Context, parent, child mmsb.PageID, typ mmsb.EdgeType) error {
	if err := nilContext(ctx, "RemoveEdge"); err != nil {
		return err
	}
	if typ == mmsb.AllEdgeTypes {
		// As Bus.RemoveEdge takes it: every type (it removed the Data
		// edge alone until 2026-12-06, TestEdgeTypeChecked).
		return c.RemoveEdges(ctx, parent, child)
	}
	pt, err := edgeType("RemoveEdge", typ)
	if err != nil {
		return err
	}
	_, err = c.rpc.RemoveEdge(ctx, connect.NewRequest(&mmsbv1.RemoveEdgeRequest{Parent: uint64(parent), Child: uint64(child), Type: pt}))
	return err
}

// RemoveEdges removes every edge parent -> child.
func (c *Client) RemoveEdges(ctx context.Context, parent, child mmsb.PageID) error {
	if err := nilContext(ctx, "RemoveEdges"); err != nil {
		return err
	}
	_, err := c.rpc.RemoveEdge(ctx, connect.NewRequest(&mmsbv1.RemoveEdgeRequest{Parent: uint64(parent), Child: uint64(child), AllTypes: true}))
	return err
}

// Bind makes child a derived page of fn over parents: mmsb.ErrUnknownFunc
// (code InvalidArgument) for a function the server's bus has not
// registered, mmsb.ErrPageNotFound (NotFound) for an unknown page.
func (c *Client) Bind(ctx context.Context, child mmsb.PageID, fn string, params []byte, parents []mmsb.PageID) error {
	if err := nilContext(ctx, "Bind"); err != nil {
		return err
	}
	if err := checkText("Bind", fmt.Sprintf("child %d function name", child), fn); err != nil {
		return err
	}
	req := &mmsbv1.BindRequest{Child: uint64(child), Func: fn, Params: params}
	for _, p := range parents {
		req.Parents = append(req.Parents, uint64(p))
	}
	_, err := c.rpc.Bind(ctx, connect.NewRequest(req))
	return err
}

// Unbind removes child's binding: mmsb.ErrNotDerived (code NotFound) for a
// page that has none.
func (c *Client) Unbind(ctx context.Context, child mmsb.PageID) error {
	if err := nilContext(ctx, "Unbind"); err != nil {
		return err
	}
	_, err := c.rpc.Unbind(ctx, connect.NewRequest(&mmsbv1.UnbindRequest{Child: uint64(child)}))
	return err
}

// Checkpoint asks the server to write a checkpoint (role admin; code
// PermissionDenied for a weaker token). It can be long: give ctx a
// deadline that fits the bus's size.
func (c *Client) Checkpoint(ctx context.Context) (mmsb.CheckpointInfo, error) {
	if err := nilContext(ctx, "Checkpoint"); err != nil {
		return mmsb.CheckpointInfo{}, err
	}
	resp, err := c.rpc.Checkpoint(ctx, connect.NewRequest(&mmsbv1.CheckpointRequest{}))
	if err != nil {
		return mmsb.CheckpointInfo{}, err
	}
	m := resp.Msg
	return mmsb.CheckpointInfo{LSN: mmsb.LSN(m.GetLsn()), Pages: int(m.GetPages()), Bytes: m.GetBytes(), SegmentsRemoved: int(m.GetSegmentsRemoved())}, nil
}

// Stats returns the server's bus statistics. Its state hash is 0: the
// server computes one only when asked (StateHash), since it hashes every
// page under the bus's read lock.
func (c *Client) Stats(ctx context.Context) (*mmsbv1.StatsResponse, error) {
	if err := nilContext(ctx, "Stats"); err != nil {
		return nil, err
	}
	return c.stats(ctx, false)
}

// StatsWithHash returns the server's bus statistics with the state hash,
// both of one state: the hash is the state's at the answer's last_lsn (the
// server reads them under one hold of the bus's lock, Bus.StatsWithHash),
// so it can be compared with a replay to that LSN, which StateHash alone
// cannot say. As slow on a large bus as StateHash.
func (c *Client) StatsWithHash(ctx context.Context) (*mmsbv1.StatsResponse, error) {
	if err := nilContext(ctx, "StatsWithHash"); err != nil {
		return nil, err
	}
	return c.stats(ctx, true)
}

func (c *Client) stats(ctx context.Context, stateHash bool) (*mmsbv1.StatsResponse, error) {
	resp, err := idempotent(ctx, c, func() (*connect.Response[mmsbv1.StatsResponse], error) {
		return c.rpc.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{StateHash: stateHash}))
	})
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// StateHash returns the bus's state hash (see Bus.StateHash). The server
// hashes every page under the bus's read lock: on a large bus this is
// slow and holds its writers back while it runs.
func (c *Client) StateHash(ctx context.Context) (uint64, error) {
	if err := nilContext(ctx, "StateHash"); err != nil {
		return 0, err
	}
	st, err := c.stats(ctx, true)
	if err != nil {
		return 0, err
	}
	return st.GetStateHash(), nil
}

// LastLSN returns the LSN of the last operation applied by the server.
func (c *Client) LastLSN(ctx context.Context) (mmsb.LSN, error) {
	if err := nilContext(ctx, "LastLSN"); err != nil {
		return 0, err
	}
	st, err := c.Stats(ctx)
	if err != nil {
		return 0, err
	}
	return mmsb.LSN(st.GetLastLsn()), nil
}

// VerifyReplay asks the server to replay its log and compare (role admin;
// code PermissionDenied for a weaker token). A difference is no error:
// the report says it (mmsb.ReplayReport). Like Checkpoint it can be long.
func (c *Client) VerifyReplay(ctx context.Context, fromNewestCheckpoint bool) (mmsb.ReplayReport, error) {
	if err := nilContext(ctx, "VerifyReplay"); err != nil {
		return mmsb.ReplayReport{}, err
	}
	resp, err := c.rpc.VerifyReplay(ctx, connect.NewRequest(&mmsbv1.VerifyReplayRequest{FromNewestCheckpoint: fromNewestCheckpoint}))
	if err != nil {
		return mmsb.ReplayReport{}, err
	}
	m := resp.Msg
	return mmsb.ReplayReport{LSN: mmsb.LSN(m.GetLsn()), LiveHash: m.GetLiveHash(), ReplayHash: m.GetReplayHash(), Pages: int(m.GetPages()),
		PagesDiffering: int(m.GetPagesDiffering()), GraphEqual: m.GetGraphEqual(), Differences: m.GetDifferences()}, nil
}
