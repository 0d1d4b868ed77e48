package client_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// bigProvenanceServer answers Provenance with one write whose intent is
// intent bytes.
type bigProvenanceServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	intent int
}

func (s bigProvenanceServer) Provenance(context.Context, *connect.Request[mmsbv1.ProvenanceRequest]) (*connect.Response[mmsbv1.ProvenanceResponse], error) {
	return connect.NewResponse(&mmsbv1.ProvenanceResponse{Writes: []*mmsbv1.ProvenanceWrite{
		{Page: 1, Lsn: 2, Kind: "delta", Parent: -1, Intent: bytes.Repeat([]byte{'i'}, s.intent)}}}), nil
}

// TestProvenanceAnswerOverReadLimit: an answer larger than the client
// reads (client.DefaultReadMaxBytes, 128 MiB; 4 KiB here) fails with
// resource_exhausted, and the error names the call and the client's read
// limit as the bound to raise, besides connect's own "message size ...
// is larger than configured max". The control, an answer under the
// limit, is read.
func TestProvenanceAnswerOverReadLimit(t *testing.T) {
	ctx := context.Background()
	limit := connect.WithReadMaxBytes(4 << 10)
	if _, err := fakeClient(t, bigProvenanceServer{intent: 1 << 10}, client.WithConnectOptions(limit)).Provenance(ctx, 1, 0, 1, 0); err != nil {
		t.Fatalf("control: %v", err)
	}
	_, err := fakeClient(t, bigProvenanceServer{intent: 8 << 10}, client.WithConnectOptions(limit)).Provenance(ctx, 1, 0, 1, 0)
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("Provenance = %v (code %v), want resource_exhausted", err, connect.CodeOf(err))
	}
	for _, want := range []string{"Provenance", "4096", "DefaultReadMaxBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("Provenance = %q, want it to name %q", err, want)
		}
	}
}

// bigStreamServer sends, on Watch and QueryLog, one message of a delta
// with data bytes of payload.
type bigStreamServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	data int
}

func (s bigStreamServer) delta() *mmsbv1.Delta {
	return &mmsbv1.Delta{Page: 1, Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{'d'}, s.data)}}}
}

func (s bigStreamServer) Watch(_ context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	return stream.Send(&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{{Lsn: 1, Page: 1, Kind: "delta", Delta: s.delta()}}, ProgressLsn: 1})
}

func (s bigStreamServer) QueryLog(_ context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	return stream.Send(&mmsbv1.QueryLogResponse{Ops: []*mmsbv1.Op{{Lsn: 1, Page: 1, Kind: "delta", Delta: s.delta()}}})
}

// TestStreamOverReadLimit: a Watch or QueryLog message over the client's
// read limit (a log operation is sent whole, up to a log record) ends the
// call with resource_exhausted naming the call and the client's read
// limit, not connect's message alone. Watch does not retry it (the same
// message would come again).
func TestStreamOverReadLimit(t *testing.T) {
	ctx := context.Background()
	c := fakeClient(t, bigStreamServer{data: 8 << 10}, client.WithConnectOptions(connect.WithReadMaxBytes(4<<10)))
	errWatch := c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error { return nil })
	errLog := c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true })
	for _, tc := range []struct {
		call string
		err  error
	}{{"Watch", errWatch}, {"QueryLog", errLog}} {
		if connect.CodeOf(tc.err) != connect.CodeResourceExhausted {
			t.Fatalf("%s = %v (code %v), want resource_exhausted", tc.call, tc.err, connect.CodeOf(tc.err))
		}
		for _, want := range []string{"client: " + tc.call + ": the answer is larger", "DefaultReadMaxBytes", "configured max 4096"} {
			if !strings.Contains(tc.err.Error(), want) {
				t.Fatalf("%s = %q, want it to name %q", tc.call, tc.err, want)
			}
		}
	}
}
