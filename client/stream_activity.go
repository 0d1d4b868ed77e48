package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
)

// activityKey is the context key under which a watch stream passes the
// function its response body calls whenever it reads bytes (see
// withActivity).
type activityKey struct{}

// withActivityFunc returns ctx carrying fn, which the response body of a
// request made with it calls on every read that brings bytes.
func withActivityFunc(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, activityKey{}, fn)
}

// withActivity returns an HTTP client that sends through hc and, for a
// request whose context carries an activity function, calls it whenever
// the response body brings bytes. The watch silence watchdog
// (WatchOptions.SilenceTimeout) rests on it: a message arriving slowly
// but steadily (a delta of tens of MiB over a slow link) is not silence,
// and was taken for it once it took longer than the bound, the stream
// cut and resumed into the same message until reconnections ran out
// (TestWatchSlowLargeMessageNotSilent). hc itself is not changed (a
// caller's, from WithHTTPClient, stays as it was): the client returned
// is a copy whose transport wraps hc's.
func withActivity(hc *http.Client) *http.Client {
	cp := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = activityTransport{base: base}
	return &cp
}

type activityTransport struct{ base http.RoundTripper }

// CloseIdleConnections passes on to the wrapped transport
// (http.Client.CloseIdleConnections looks for it).
func (t activityTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (t activityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	if err := httpToTLS(req, resp); err != nil {
		return nil, err
	}
	if fn, ok := req.Context().Value(activityKey{}).(func()); ok && fn != nil {
		resp.Body = &activityBody{ReadCloser: resp.Body, fn: fn}
	}
	return resp, nil
}

// activityBody calls fn on every read that brings bytes.
type activityBody struct {
	io.ReadCloser
	fn func()
}

func (b *activityBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.fn()
	}
	return n, err
}

// tlsRefusal is the start of the body a Go HTTPS server (net/http)
// answers a plain HTTP request with, status 400.
const tlsRefusal = "Client sent an HTTP request to an HTTPS server."

// httpToTLS returns an error (code InvalidArgument, wrapping
// mmsb.ErrInvalidOption) saying to use https:// when an http:// request
// met a TLS server's refusal; otherwise nil, resp's body left to read as
// it was. Connect reads no body of a 400 answer and gave "internal: 400
// Bad Request", which reads as a server bug (TestHTTPToTLSServerSaysHTTPS).
func httpToTLS(req *http.Request, resp *http.Response) error {
	if req.URL.Scheme != "http" || resp.StatusCode != http.StatusBadRequest {
		return nil
	}
	start, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(tlsRefusal))))
	if err != nil || string(start) != tlsRefusal {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(start), resp.Body), resp.Body}
		return nil
	}
	_ = resp.Body.Close()
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
		"%w: the server at %s speaks TLS (it answered: %q): use https://%s",
		mmsb.ErrInvalidOption, req.URL.Host, tlsRefusal, req.URL.Host))
}
