package client_test

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// recordingServer records the one Watch request it is sent and refuses it.
type recordingServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	got chan *mmsbv1.WatchRequest
}

var errRecorded = errors.New("recorded")

func (s *recordingServer) Watch(_ context.Context, req *connect.Request[mmsbv1.WatchRequest], _ *connect.ServerStream[mmsbv1.WatchResponse]) error {
	s.got <- req.Msg
	return connect.NewError(connect.CodeFailedPrecondition, errRecorded)
}

// TestWatchProgressOption: WatchOptions.Progress reaches the server as
// the interval asked for (rounded up to a millisecond, capped at what
// progress_ms holds), and a negative one is refused, instead of wrapping
// around to an interval of weeks or to the server's default.
func TestWatchProgressOption(t *testing.T) {
	cases := []struct {
		name     string
		progress time.Duration
		wantMs   uint32 // when no error
		wantErr  error
	}{
		{"server default", 0, 0, nil},
		{"50 ms", 50 * time.Millisecond, 50, nil},
		{"under a millisecond", 300 * time.Microsecond, 1, nil},
		{"past progress_ms", 60 * 24 * time.Hour, math.MaxUint32, nil},
		{"negative", -time.Second, 0, mmsb.ErrInvalidOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &recordingServer{got: make(chan *mmsbv1.WatchRequest, 1)}
			_, h := mmsbv1connect.NewBusServiceHandler(s)
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)
			cl, err := client.New(hs.URL, client.WithRetries(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			err = cl.Watch(context.Background(), client.WatchOptions{Progress: c.progress}, func(client.WatchEvent) error { return nil })
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Progress %v: want %v, got %v", c.progress, c.wantErr, err)
				}
				if len(s.got) != 0 {
					t.Fatalf("Progress %v: the request was sent anyway", c.progress)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Fatalf("Progress %v: want the server's refusal, got %v", c.progress, err)
			}
			if ms := (<-s.got).GetProgressMs(); ms != c.wantMs {
				t.Fatalf("Progress %v: sent progress_ms %d, want %d", c.progress, ms, c.wantMs)
			}
		})
	}
}
