package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// submitAnswerServer answers every Submit with accepted deltas, or err.
type submitAnswerServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	accepted uint32
	err      error
}

func (s *submitAnswerServer) Submit(context.Context, *connect.Request[mmsbv1.SubmitRequest]) (*connect.Response[mmsbv1.SubmitResponse], error) {
	if s.err != nil {
		return nil, s.err
	}
	return connect.NewResponse(&mmsbv1.SubmitResponse{Accepted: s.accepted}), nil
}

// TestSubmitChecksAccepted: Submit is all or nothing, so an answer that
// accepted some of the deltas but not all is refused with ErrBadResponse
// naming both counts (before, any answer without an error was success);
// the server's error comes back as it is. The negative control is an
// answer that accepted every delta: nil.
func TestSubmitChecksAccepted(t *testing.T) {
	ctx := context.Background()
	ds := []mmsb.Delta{mmsb.Write(1, 0, []byte("a")), mmsb.Write(2, 0, []byte("b"))}
	for _, c := range []struct {
		name string
		srv  *submitAnswerServer
		code connect.Code
		bad  bool
	}{
		{"all accepted", &submitAnswerServer{accepted: 2}, 0, false},
		{"one of two accepted", &submitAnswerServer{accepted: 1}, 0, true},
		{"more than sent", &submitAnswerServer{accepted: 3}, 0, true},
		{"refused", &submitAnswerServer{err: connect.NewError(connect.CodeResourceExhausted, errors.New("full"))}, connect.CodeResourceExhausted, false},
	} {
		_, h := mmsbv1connect.NewBusServiceHandler(c.srv)
		hs := httptest.NewServer(h)
		cl, err := client.New(hs.URL, client.WithRetries(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		err = cl.Submit(ctx, ds)
		hs.Close()
		switch {
		case c.bad:
			if !errors.Is(err, client.ErrBadResponse) {
				t.Errorf("%s: Submit = %v, want ErrBadResponse", c.name, err)
			}
		case c.code != 0:
			if connect.CodeOf(err) != c.code || errors.Is(err, client.ErrBadResponse) {
				t.Errorf("%s: Submit = %v, want the server's %v", c.name, err, c.code)
			}
		case err != nil:
			t.Errorf("%s: Submit = %v, want nil", c.name, err)
		}
	}
}
