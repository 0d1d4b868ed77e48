package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
)

// ErrCutEnvelope refuses a request whose body ends inside an enveloped
// message (gRPC, gRPC-Web, Connect's streaming protocol): part of a
// message's 5-byte prefix, or of the message its prefix announced, never
// came. The request is refused with invalid_argument naming what was
// missing.
var ErrCutEnvelope = errors.New("server: request body ends inside an enveloped message")

// CutEnvelopes returns h, a Connect handler, reading the body of an
// enveloped request through an envelopeBody, so that a body cut inside
// an envelope is answered invalid_argument: Connect's envelope reader
// answers internal (a server's fault), and Connect keeps the code of a
// *connect.Error the body's read returns. Mux serves the bus's service
// behind it, and the inspector its own (TestCutEnvelopeInvalidArgument,
// inspector's TestCutEnvelopeRefused).
func CutEnvelopes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if enveloped(r.Header) && r.Body != nil && r.Body != http.NoBody {
			r = r.WithContext(r.Context()) // a copy, its body followed
			r.Body = &envelopeBody{ReadCloser: r.Body}
		}
		h.ServeHTTP(w, r)
	})
}

// envelopeBody follows the envelopes of a request's body and turns its
// end inside one into ErrCutEnvelope.
type envelopeBody struct {
	io.ReadCloser
	env envelopes
}

func (b *envelopeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.env.whole(p[:n])
	if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && b.env.inside() {
		what := fmt.Sprintf("%d of the 5 bytes of an envelope's prefix", b.env.got)
		if b.env.got == len(b.env.prefix) {
			what = fmt.Sprintf("a message of %d bytes with %d still to come", binary.BigEndian.Uint32(b.env.prefix[1:]), b.env.left)
		}
		return n, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the body ended after %s", ErrCutEnvelope, what))
	}
	return n, err
}
