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

// ErrRequestTooLarge refuses a request message larger than the server
// reads (mmsb serve --max-request-bytes): the refusal, resource_exhausted
// in every protocol, names the flag, its value and the message's size.
var ErrRequestTooLarge = errors.New("server: request message is larger than the server reads")

// maxRequestBytesFlag names the bound BoundMessages enforces in Mux (and
// boundedGunzip there).
const maxRequestBytesFlag = "--max-request-bytes"

// BoundMessages returns h, a Connect handler reading messages of at most
// maxBytes (connect.WithReadMaxBytes), refusing a request message larger
// than maxBytes with ErrRequestTooLarge naming setting, the flag or
// option that sets maxBytes (Mux: --max-request-bytes), and its value,
// before Connect does: Connect's own refusal ("message size N is larger
// than configured max M") named no flag, so that a client could not tell
// which server limit it met (TestRequestTooLargeNamesFlag; the
// inspector's service, mounted beside Mux's, is bounded the same way:
// its TestRequestTooLargeNamesSetting). A
// body of one message (Connect's unary protocol) is refused when the
// bytes read of it pass maxBytes, as Connect refused it (one announcing
// more is read that far, counted against the bounds on write bytes as it
// arrives: countWrites); an enveloped one
// (gRPC, gRPC-Web, Connect's streaming protocol) once an envelope's
// prefix announces more, without its message being read (Connect read
// and discarded it first). A compressed message inflating past maxBytes
// is refused by the decompressor (BoundedGzip), naming setting too.
func BoundMessages(h http.Handler, maxBytes int, setting string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r = r.WithContext(r.Context()) // a copy, its body bounded
			b := &boundedBody{ReadCloser: r.Body, max: int64(maxBytes), length: r.ContentLength, setting: setting}
			if enveloped(r.Header) {
				b.env = &envelopes{}
			}
			r.Body = b
		}
		h.ServeHTTP(w, r)
	})
}

// boundedBody is a request's body read through boundMessages.
type boundedBody struct {
	io.ReadCloser
	max, length, read int64
	setting           string     // what sets max, named in the refusal
	env               *envelopes // an enveloped body's, else nil
	err               error
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.ReadCloser.Read(p)
	if b.env != nil {
		if b.env.whole(p[:n]); int64(b.env.announced) > b.max {
			return 0, b.refuse(int64(b.env.announced))
		}
		return n, err
	}
	if b.read += int64(n); b.read > b.max {
		return 0, b.refuse(max(b.read, b.length))
	}
	return n, err
}

// refuse is the refusal of a message of size bytes (or more, where its
// body is still arriving), which every later read returns too.
func (b *boundedBody) refuse(size int64) error {
	more := " or more"
	if b.env != nil || size == b.length {
		more = ""
	}
	b.err = connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%w: a message of %d bytes%s, more than %s %d",
		ErrRequestTooLarge, size, more, b.setting, b.max))
	return b.err
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
