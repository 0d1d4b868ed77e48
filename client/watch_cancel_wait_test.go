package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// downWatchServer answers every Watch with Unavailable.
type downWatchServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (downWatchServer) Watch(context.Context, *connect.Request[mmsbv1.WatchRequest], *connect.ServerStream[mmsbv1.WatchResponse]) error {
	return connect.NewError(connect.CodeUnavailable, errors.New("down for maintenance"))
}

// cancelOnClose calls cancel when the client closes a stream: after it
// has read the server's answer, before it decides what to do with it.
type cancelOnClose struct {
	connect.StreamingClientConn
	cancel func()
}

func (c cancelOnClose) CloseResponse() error {
	err := c.StreamingClientConn.CloseResponse()
	c.cancel()
	return err
}

// cancelInterceptor wraps every stream in a cancelOnClose.
type cancelInterceptor struct{ cancel func() }

func (i cancelInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (i cancelInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return cancelOnClose{next(ctx, spec), i.cancel}
	}
}

func (i cancelInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestWatchCanceledWhileWaitingSaysWhy: a watch whose context ends while
// it waits to reconnect returns an error wrapping both the context's
// error and the server's last answer, as the unary calls do
// (TestRetryCanceledSaysSo). Until 2026-12-07 it returned the bare
// ctx.Err(), "context canceled", the server's answer lost; and a context
// ending just as the server answered returned the answer alone.
func TestWatchCanceledWhileWaitingSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		async bool // cancel from another goroutine: mostly while the client waits its backoff
	}{{"as the answer is read", false}, {"while waiting", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, h := mmsbv1connect.NewBusServiceHandler(downWatchServer{})
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)
			// The first backoff is far longer than the test: only the
			// cancellation ends the watch.
			f := cancel
			if tc.async {
				f = func() { go cancel() }
			}
			cancelAfter := cancelInterceptor{f}
			c, err := client.New(hs.URL, client.WithRetries(3, time.Hour),
				client.WithConnectOptions(connect.WithInterceptors(cancelAfter)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error { return nil })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Watch: %v, want an error wrapping context.Canceled", err)
			}
			if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "down for maintenance") {
				t.Fatalf("Watch: %v, want the server's last answer (unavailable) in it", err)
			}
		})
	}
}
