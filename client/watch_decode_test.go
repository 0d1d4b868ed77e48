package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// badDeltaServer's first Watch stream sends a good change at LSN 1 and a
// change at LSN 2 whose delta no client can decode, in one message, then
// drops; later streams record their from_lsn and end.
type badDeltaServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	mu    sync.Mutex
	froms []uint64
}

func (s *badDeltaServer) Watch(_ context.Context, req *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	s.mu.Lock()
	s.froms = append(s.froms, req.Msg.GetFromLsn())
	first := len(s.froms) == 1
	s.mu.Unlock()
	if !first {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("reconnected"))
	}
	msg := &mmsbv1.WatchResponse{ProgressLsn: 2, Changes: []*mmsbv1.Change{
		{Lsn: 1, Page: 1, Kind: "meta"},
		{Lsn: 2, Page: 1, Kind: "delta", Delta: &mmsbv1.Delta{Page: 1, Form: 7}},
	}}
	if err := stream.Send(msg); err != nil {
		return err
	}
	return connect.NewError(connect.CodeUnavailable, errors.New("dropped"))
}

// TestWatchUndecodableChange: a change the client cannot decode ends the
// watch with an error naming it (ErrInvalidDelta), and is not a reason to
// reconnect past the changes of its message that were never delivered.
func TestWatchUndecodableChange(t *testing.T) {
	s := &badDeltaServer{}
	_, h := mmsbv1connect.NewBusServiceHandler(s)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	delivered := map[mmsb.LSN]bool{}
	err = c.Watch(context.Background(), client.WatchOptions{FromLSN: 1, MaxReconnects: 1}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			delivered[ch.LSN] = true
		}
		return nil
	})
	s.mu.Lock()
	froms := append([]uint64(nil), s.froms...)
	s.mu.Unlock()
	for _, from := range froms[1:] {
		for lsn := mmsb.LSN(1); lsn < mmsb.LSN(from); lsn++ {
			if !delivered[lsn] {
				t.Fatalf("reconnected from LSN %d, but LSN %d was never delivered (streams from %v)", from, lsn, froms)
			}
		}
	}
	if !errors.Is(err, mmsb.ErrInvalidDelta) || !strings.Contains(err.Error(), "LSN 2") {
		t.Fatalf("want an ErrInvalidDelta naming LSN 2, got %v", err)
	}
	if len(froms) != 1 {
		t.Fatalf("reconnected after an undecodable change: streams from %v", fmt.Sprint(froms))
	}
}
