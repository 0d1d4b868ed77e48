package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mmsb-go/mmsb/metrics"
)

// NewRPCMetrics registers the RPC families and returns an interceptor to
// install on every handler; each finished call is counted by procedure
// and Connect code. A second call on the same registry fails: it would
// count every call twice.
func ExampleNewRPCMetrics() {
	reg := prometheus.NewRegistry()
	ic, err := metrics.NewRPCMetrics(reg)
	if err != nil {
		panic(err)
	}
	const procedure = "/example.v1.EchoService/Say"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure,
		func(_ context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			if req.Msg.GetValue() == "" {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty"))
			}
			return connect.NewResponse(req.Msg), nil
		}, connect.WithInterceptors(ic)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	say := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
	for _, msg := range []string{"hello", "again", ""} {
		_, _ = say.CallUnary(context.Background(), connect.NewRequest(wrapperspb.String(msg)))
	}
	mfs, err := reg.Gather() // sorted by name and labels
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mmsb_rpc_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Printf("%s=%s ", l.GetName(), l.GetValue())
			}
			fmt.Println(m.GetCounter().GetValue())
		}
	}

	_, err = metrics.NewRPCMetrics(reg)
	fmt.Println("second registration refused:", err != nil)
	// Output:
	// code=invalid_argument procedure=/example.v1.EchoService/Say 1
	// code=ok procedure=/example.v1.EchoService/Say 2
	// second registration refused: true
}
