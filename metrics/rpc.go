package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
)

// rpcDurationBuckets: 50 µs (a loopback unary call) to ~6.5 s.
var rpcDurationBuckets = prometheus.ExponentialBuckets(50e-6, 2, 18)

// rpcMetrics is the interceptor behind NewRPCMetrics.
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRPCMetrics registers mmsb_rpc_requests_total{procedure,code} and
// mmsb_rpc_duration_seconds{procedure} in reg (both or, with the
// registry's error, neither) and returns a Connect
// interceptor that records every call into them: unary calls when they
// return, handler-side streams (server, client and bidi) when the handler
// returns, so a Watch stream's duration is the stream's lifetime. code is
// "ok" or the Connect code's name ("invalid_argument", "unauthenticated",
// ...; "unknown" for a code no Connect version names, so that a peer
// cannot add a series per number). procedure is the full procedure path, bounded by the service
// definition (unknown procedures never reach an interceptor). Client-side
// streams pass through unrecorded. A nil reg is refused with an error
// wrapping mmsb.ErrInvalidOption (it panicked).
//
// Install it on the handlers: connect.WithInterceptors(ic).
func NewRPCMetrics(reg prometheus.Registerer) (connect.Interceptor, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: metrics: NewRPCMetrics with a nil registerer", mmsb.ErrInvalidOption)
	}
	m := &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mmsb_rpc_requests_total",
			Help: "RPCs finished, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mmsb_rpc_duration_seconds",
			Help:    "Time per RPC (for streams: the stream's lifetime), by procedure.",
			Buckets: rpcDurationBuckets,
		}, []string{"procedure"}),
	}
	if err := reg.Register(m.requests); err != nil {
		return nil, err
	}
	if err := reg.Register(m.duration); err != nil {
		// All or nothing: a requests counter left registered would make
		// every later call on this registry fail as a duplicate.
		reg.Unregister(m.requests)
		return nil, err
	}
	return m, nil
}

func (m *rpcMetrics) observe(procedure string, start time.Time, err error) {
	m.requests.WithLabelValues(procedure, codeLabel(err)).Inc()
	m.duration.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
}

// codeLabel names a call's outcome: "ok", or its Connect code.
func codeLabel(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		// A code no Connect version names (a server can send any number:
		// gRPC's grpc-status, Connect's "code_N") is "unknown", as gRPC
		// says to read it: its "code_N" name made one series per number,
		// chosen by the server (TestRPCCodeLabelBounded).
		if c := ce.Code(); c >= connect.CodeCanceled && c <= connect.CodeUnauthenticated {
			return c.String()
		}
		return connect.CodeUnknown.String()
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled.String()
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded.String()
	}
	return connect.CodeUnknown.String() // what Connect sends the client for a plain error
}

// WrapUnary records unary calls (handler or client side).
func (m *rpcMetrics) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		res, err := next(ctx, req)
		m.observe(req.Spec().Procedure, start, err)
		return res, err
	}
}

// WrapStreamingClient leaves client-side streams alone.
func (m *rpcMetrics) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler records handler-side streams when they end.
func (m *rpcMetrics) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		m.observe(conn.Spec().Procedure, start, err)
		return err
	}
}
