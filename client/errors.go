package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/internal/wire"
)

// ErrServerBusy means the server refused a call at one of its bounds on
// work in flight (code ResourceExhausted): its requests in flight
// (mmsb serve --max-requests), those of this client's address
// (--max-requests-per-client), its open watches (--max-watchers) or log
// queries (--max-log-queries), or the bytes that the answers in flight
// (Read, ListPages, Provenance), all or this address's, hold (Mmsb-Busy:
// "answer bytes", "answer bytes per client"), or the bytes that the write
// requests in flight hold ("write bytes", "write bytes per client"; such a
// write was not applied). The refusal passes once other calls end:
// retry later. The error names the bound and its flag. Watch retries such
// a refusal itself, with backoff, as a reconnection. The bus's own
// ResourceExhausted errors wrap their sentinels instead: mmsb.ErrBusy
// (Submit's intake queue is full until the next tick drains it) and
// mmsb.ErrNoSpace (no memory or space for new pages), which may pass
// too. A ResourceExhausted error that wraps none of these (a message,
// batch or answer over a size bound) will fail again however often it is
// retried. A connection past --max-conns or --max-conns-per-client is
// refused the same way (naming that flag) while the server's reserve of
// probe connections has room, and else closed unanswered: that call
// fails with code Unavailable instead.
var ErrServerBusy = errors.New("client: the server is busy")

// busyHeader is the error metadata naming the server's bound on a busy
// refusal (server.BusyKey).
const busyHeader = "Mmsb-Busy"

// serverError is an error the server answered, with the sentinels it
// named: errors.Is(err, mmsb.ErrPageNotFound) holds as with an embedded
// bus, and errors.As and connect.CodeOf still find the *connect.Error.
// Its message is the server's (which already names the sentinel).
type serverError struct {
	err       *connect.Error
	sentinels []error
}

func (e *serverError) Error() string { return e.err.Error() }

func (e *serverError) Unwrap() []error { return append([]error{e.err}, e.sentinels...) }

// withSentinels returns err with the sentinels its metadata names, or
// err itself when it names none (or none this client knows).
func withSentinels(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	var found []error
	for _, name := range ce.Meta().Values(wire.SentinelsKey) {
		if s, ok := wire.SentinelNamed(name); ok {
			found = append(found, s)
		}
	}
	if ce.Code() == connect.CodeResourceExhausted && ce.Meta().Get(busyHeader) != "" {
		found = append(found, ErrServerBusy)
	}
	if len(found) == 0 {
		return err
	}
	return &serverError{err: ce, sentinels: found}
}

// lostPing is the message of the error net/http's HTTP/2 transport closes
// a connection with when a health-check ping goes unanswered (it exports
// no sentinel for it).
const lostPing = "http2: client connection lost"

// silent returns err wrapped with ErrConnectionSilent, naming the bounds,
// when the transport closed the call's connection for an unanswered ping
// (only a transport of New's makes such pings); otherwise err.
func (c *Client) silent(what string, err error) error {
	if err == nil || c.pingAfter <= 0 || !strings.Contains(err.Error(), lostPing) {
		return err
	}
	return fmt.Errorf("%w: %s: no frame for %v, then no answer to a ping within %v: %w",
		ErrConnectionSilent, what, c.pingAfter, c.pingTimeout, err)
}

// lostConnection returns err with code Unavailable, naming the lost
// connection, when connect-go gave it code Canceled while ctx has not
// ended: connect-go takes a write or read that failed with EPIPE or
// ECONNRESET for a client that went away (meant for servers), so a server
// that closed the connection (a restart, --max-conns closing it
// unanswered, a TLS server refusing a client without a certificate)
// read as the caller's cancellation, and idempotent calls were not
// retried (TestLostConnectionUnavailable). Otherwise it returns err.
func lostConnection(ctx context.Context, err error) error {
	var ce *connect.Error
	if ctx.Err() != nil || !errors.As(err, &ce) || ce.Code() != connect.CodeCanceled || errors.Is(err, context.Canceled) {
		return err
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("the connection to the server was lost: %w", ce.Unwrap()))
}

// sentinelInterceptor applies withSentinels, readLimitError,
// lostConnection and Client.silent to the errors of unary calls (streams
// apply them where they read their error).
type sentinelInterceptor struct{ c *Client }

func (i sentinelInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		if err != nil {
			// An answer over the read limit names the call and the
			// option to raise, as Watch and QueryLog do: until
			// 2026-12-06 only Provenance's did (TestUnaryOverReadLimitNamed).
			proc := req.Spec().Procedure
			err = i.c.readLimitError(proc[strings.LastIndexByte(proc, '/')+1:], withSentinels(lostConnection(ctx, err)))
			return resp, i.c.silent(proc, err)
		}
		return resp, nil
	}
}

func (sentinelInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (sentinelInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
