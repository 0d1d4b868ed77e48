package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	sayProcedure    = "/test.v1.EchoService/Say"
	repeatProcedure = "/test.v1.EchoService/Repeat"
)

// echoServer is a tiny Connect service built from the generic handlers,
// so the test needs no generated code: Say echoes its input ("bad" is
// refused with InvalidArgument), Repeat streams its input twice ("gone" is
// refused with NotFound after one message).
func echoServer(t *testing.T, ic connect.Interceptor) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(sayProcedure, connect.NewUnaryHandler(sayProcedure,
		func(_ context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			if req.Msg.GetValue() == "bad" {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("bad input"))
			}
			return connect.NewResponse(wrapperspb.String(req.Msg.GetValue())), nil
		}, connect.WithInterceptors(ic)))
	mux.Handle(repeatProcedure, connect.NewServerStreamHandler(repeatProcedure,
		func(_ context.Context, req *connect.Request[wrapperspb.StringValue], s *connect.ServerStream[wrapperspb.StringValue]) error {
			if err := s.Send(wrapperspb.String(req.Msg.GetValue())); err != nil {
				return err
			}
			if req.Msg.GetValue() == "gone" {
				return connect.NewError(connect.CodeNotFound, errors.New("gone"))
			}
			return s.Send(wrapperspb.String(req.Msg.GetValue()))
		}, connect.WithInterceptors(ic)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRPCMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ic, err := NewRPCMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := echoServer(t, ic)
	say := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+sayProcedure)
	repeat := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+repeatProcedure)

	for _, in := range []string{"a", "b", "bad", "c", "bad"} {
		_, err := say.CallUnary(ctx, connect.NewRequest(wrapperspb.String(in)))
		if (in == "bad") != (err != nil) {
			t.Fatalf("Say(%q): %v", in, err)
		}
	}
	for _, in := range []string{"x", "gone", "y"} {
		s, err := repeat.CallServerStream(ctx, connect.NewRequest(wrapperspb.String(in)))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for s.Receive() {
			n++
		}
		if (in == "gone") != (connect.CodeOf(s.Err()) == connect.CodeNotFound) || s.Close() != nil {
			t.Fatalf("Repeat(%q): %d messages, %v", in, n, s.Err())
		}
	}

	fams := scrape(t, reg)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mmsb_rpc_requests_total", []string{"procedure=" + sayProcedure, "code=ok"}, 3},
		{"mmsb_rpc_requests_total", []string{"procedure=" + sayProcedure, "code=invalid_argument"}, 2},
		{"mmsb_rpc_requests_total", []string{"procedure=" + repeatProcedure, "code=ok"}, 2},
		{"mmsb_rpc_requests_total", []string{"procedure=" + repeatProcedure, "code=not_found"}, 1},
		{"mmsb_rpc_duration_seconds", []string{"procedure=" + sayProcedure}, 5},
		{"mmsb_rpc_duration_seconds", []string{"procedure=" + repeatProcedure}, 3},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	checkHistograms(t, fams)
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	// A second interceptor in the same registry would count every call
	// twice under the same names: refused.
	if _, err := NewRPCMetrics(reg); err == nil {
		t.Error("second NewRPCMetrics on one registry accepted")
	}
}

func TestCodeLabel(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{connect.NewError(connect.CodePermissionDenied, errors.New("no")), "permission_denied"},
		{context.Canceled, "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded"},
		{errors.New("plain"), "unknown"},
	} {
		if got := codeLabel(c.err); got != c.want {
			t.Errorf("codeLabel(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestRPCMetricsFailedRegistrationLeavesNothing guards NewRPCMetrics's
// all-or-nothing registration: when the second family cannot be
// registered, the first must not stay behind. Before, the requests counter
// stayed registered, so once the cause was gone every later NewRPCMetrics
// on that registry failed with "duplicate metrics collector registration
// attempted".
func TestRPCMetricsFailedRegistrationLeavesNothing(t *testing.T) {
	reg := &refusingRegisterer{Registry: prometheus.NewPedanticRegistry(), refuse: true}
	if _, err := NewRPCMetrics(reg); !errors.Is(err, errRefused) {
		t.Fatalf("got %v, want the registerer's error", err)
	}
	reg.refuse = false
	if _, err := NewRPCMetrics(reg); err != nil {
		t.Fatalf("NewRPCMetrics once the registerer accepts: %v", err)
	}
}

var errRefused = errors.New("refused for the test")

// refusingRegisterer refuses collectors whose descriptions mention
// mmsb_rpc_duration_seconds while refuse is set.
type refusingRegisterer struct {
	*prometheus.Registry
	refuse bool
}

func (r *refusingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 8)
	c.Describe(ch)
	close(ch)
	for d := range ch {
		if r.refuse && strings.Contains(d.String(), `"mmsb_rpc_duration_seconds"`) {
			return errRefused
		}
	}
	return r.Registry.Register(c)
}
