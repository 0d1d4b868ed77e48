package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// appliedThenFailedServer fails Commit and CreatePages with Unavailable,
// carrying detail (when set) as the server does for a write it logged
// and applied before the failure.
type appliedThenFailedServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	detail proto.Message
}

func (s *appliedThenFailedServer) fail() error {
	err := connect.NewError(connect.CodeUnavailable, errors.New("fsync failed"))
	if s.detail != nil {
		d, derr := connect.NewErrorDetail(s.detail)
		if derr != nil {
			panic(derr)
		}
		err.AddDetail(d)
	}
	return err
}

func (s *appliedThenFailedServer) Commit(context.Context, *connect.Request[mmsbv1.CommitRequest]) (*connect.Response[mmsbv1.CommitResponse], error) {
	return nil, s.fail()
}

func (s *appliedThenFailedServer) CreatePages(context.Context, *connect.Request[mmsbv1.CreatePagesRequest]) (*connect.Response[mmsbv1.CreatePagesResponse], error) {
	return nil, s.fail()
}

// TestAppliedAnswerMalformedStaysUncertain: when the server says a write
// was logged and applied before it failed, the client's error wraps
// client.ErrCommitUncertain even if the server's account of the LSNs,
// epochs or IDs does not match the request (then with
// client.ErrBadResponse too, and nothing filled in): the caller must not
// send the batch again blindly. Until 2026-12-06 such an error wrapped
// ErrBadResponse alone. Controls: a matching account is uncertain and
// filled in; an error without one is neither.
func TestAppliedAnswerMalformedStaysUncertain(t *testing.T) {
	ctx := context.Background()
	commit := func(c *client.Client) (bool, error) {
		ds := []mmsb.Delta{mmsb.Write(1, 0, []byte("a")), mmsb.Write(1, 1, []byte("b"))}
		info, err := c.Commit(ctx, ds)
		return info.FirstLSN != 0 || ds[0].LSN != 0, err
	}
	create := func(c *client.Client) (bool, error) {
		ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
		return ids != nil, err
	}
	cases := []struct {
		name           string
		call           func(*client.Client) (filled bool, err error)
		detail         proto.Message
		uncertain, bad bool
	}{
		{"Commit: LSNs for one delta of two", commit, &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 5, Epochs: []uint64{1, 2}}, true, true},
		{"Commit: one epoch for two deltas", commit, &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 6, Epochs: []uint64{1}}, true, true},
		{"Commit: matching (control)", commit, &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 6, Epochs: []uint64{1, 2}}, true, false},
		{"Commit: no detail (control)", commit, nil, false, false},
		{"CreatePages: one ID for two pages", create, &mmsbv1.CreatePagesResponse{Ids: []uint64{7}}, true, true},
		{"CreatePages: matching (control)", create, &mmsbv1.CreatePagesResponse{Ids: []uint64{7, 8}}, true, false},
		{"CreatePages: no detail (control)", create, nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, h := mmsbv1connect.NewBusServiceHandler(&appliedThenFailedServer{detail: c.detail})
			hs := httptest.NewServer(h)
			defer hs.Close()
			cl, err := client.New(hs.URL, client.WithRetries(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			filled, err := c.call(cl)
			if err == nil || connect.CodeOf(err) != connect.CodeUnavailable {
				t.Fatalf("error %v: want the server's unavailable", err)
			}
			if got := errors.Is(err, client.ErrCommitUncertain); got != c.uncertain {
				t.Fatalf("errors.Is(err, ErrCommitUncertain) = %v, want %v: %v", got, c.uncertain, err)
			}
			if got := errors.Is(err, client.ErrBadResponse); got != c.bad {
				t.Fatalf("errors.Is(err, ErrBadResponse) = %v, want %v: %v", got, c.bad, err)
			}
			if want := c.uncertain && !c.bad; filled != want {
				t.Fatalf("the answer filled in: %v, want %v", filled, want)
			}
		})
	}
}
