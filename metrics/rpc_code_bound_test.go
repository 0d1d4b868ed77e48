package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRPCCodeLabelBounded: the code label takes one of the 17 values
// (ok and the 16 Connect codes), whatever code an error carries. A
// server can answer any code number (gRPC's grpc-status, Connect's
// "code_N"), and a client recording its calls (the interceptor on the
// client side) made one series per number, "code_1000", "code_1001", ...:
// memory without bound, chosen by the server. Until 2026-12-06.
func TestRPCCodeLabelBounded(t *testing.T) {
	const calls = 40
	mux := http.NewServeMux()
	var n atomic.Int32
	mux.Handle(sayProcedure, connect.NewUnaryHandler(sayProcedure,
		func(context.Context, *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			return nil, connect.NewError(connect.Code(1000+n.Add(1)), errors.New("a code no Connect version names"))
		}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, grpc := range []bool{false, true} {
		reg := prometheus.NewPedanticRegistry()
		ic, err := NewRPCMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		opts := []connect.ClientOption{connect.WithInterceptors(ic)}
		hc := srv.Client()
		if grpc {
			opts = append(opts, connect.WithGRPC())
			srv2 := httptest.NewUnstartedServer(mux)
			srv2.EnableHTTP2 = true
			srv2.StartTLS()
			t.Cleanup(srv2.Close)
			hc = srv2.Client()
			say := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, srv2.URL+sayProcedure, opts...)
			callMany(t, say, calls)
		} else {
			say := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, srv.URL+sayProcedure, opts...)
			callMany(t, say, calls)
		}
		if got := testutil.CollectAndCount(reg, "mmsb_rpc_requests_total"); got != 1 {
			t.Errorf("grpc=%v: %d series of mmsb_rpc_requests_total after %d calls with distinct unnamed codes, want 1", grpc, got, calls)
		}
		want := "mmsb_rpc_requests_total{code=\"unknown\",procedure=\"" + sayProcedure + "\"} 40\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(
			"# HELP mmsb_rpc_requests_total RPCs finished, by procedure and Connect code.\n# TYPE mmsb_rpc_requests_total counter\n"+want),
			"mmsb_rpc_requests_total"); err != nil {
			t.Errorf("grpc=%v: %v", grpc, err)
		}
	}
}

func callMany(t *testing.T, say *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue], calls int) {
	t.Helper()
	for range calls {
		if _, err := say.CallUnary(context.Background(), connect.NewRequest(wrapperspb.String("x"))); err == nil {
			t.Fatal("the call succeeded; the server answers only errors")
		}
	}
}
