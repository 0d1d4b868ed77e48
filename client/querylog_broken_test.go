package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// brokenLogServer sends one operation of QueryLog, then fails with its
// error.
type brokenLogServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	calls atomic.Int32
	err   *connect.Error
}

func (s *brokenLogServer) QueryLog(_ context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	s.calls.Add(1)
	if err := stream.Send(&mmsbv1.QueryLogResponse{Ops: []*mmsbv1.Op{{Lsn: 1, Kind: "meta", Page: 1}}}); err != nil {
		return err
	}
	return s.err
}

// TestQueryLogBrokenAfterDelivery: a QueryLog stream that breaks after
// delivering operations is not retried (it would deliver them again),
// and the caller gets the server's error, with its code, not a
// replacement that hides it.
func TestQueryLogBrokenAfterDelivery(t *testing.T) {
	cases := []struct {
		name string
		code connect.Code
	}{
		{"retryable", connect.CodeUnavailable},
		{"not retryable", connect.CodeInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &brokenLogServer{err: connect.NewError(c.code, errors.New("the log went away"))}
			_, h := mmsbv1connect.NewBusServiceHandler(s)
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)
			cl, err := client.New(hs.URL, client.WithRetries(3, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = cl.QueryLog(context.Background(), mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { n++; return true })
			if connect.CodeOf(err) != c.code {
				t.Fatalf("want the server's %v error, got %v (code %v)", c.code, err, connect.CodeOf(err))
			}
			if n != 1 || s.calls.Load() != 1 {
				t.Fatalf("%d operations delivered over %d calls, want 1 over 1", n, s.calls.Load())
			}
		})
	}
}
