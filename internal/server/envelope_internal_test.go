package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"connectrpc.com/connect"
)

// envelope is a message of flag and data in its envelope.
func envelope(flag byte, data []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{flag}, uint32(len(data))), data...)
}

// TestEnvelopeBodyFollowsEveryEnvelope: the body an enveloped request is
// read through (CutEnvelopes) follows every envelope, read whole or a
// byte at a time, and with its last bytes and io.EOF in one read: bodies
// of several messages flagged compressed, a gRPC-Web trailer frame
// (flag 0x80), a Connect end-stream frame (0x02), empty messages and a
// body cut exactly after an envelope are read to io.EOF; one cut inside
// the prefix or the message of any of its envelopes, one announcing
// 2^32-1 bytes, fails with invalid_argument naming ErrCutEnvelope and
// what was missing. The envelopes' tracker says a compressed message
// ended in each read that ended one, after any number of them before
// (countWrites counts a compressed message's inflation once it has
// arrived whole).
func TestEnvelopeBodyFollowsEveryEnvelope(t *testing.T) {
	gz := envelope(1, []byte("compressed"))
	plain := envelope(0, []byte("plain"))
	trailer := envelope(0x80, []byte("grpc-status: 0\r\n"))
	endStream := envelope(2, []byte("{}"))
	empty := envelope(0, nil)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	huge := binary.BigEndian.AppendUint32([]byte{0}, math32)
	for _, c := range []struct {
		name string
		body []byte
		cut  string // what the refusal names; "" for none
	}{
		{"empty body", nil, ""},
		{"one empty message", empty, ""},
		{"several compressed messages", cat(gz, gz, plain, gz), ""},
		{"a trailer frame", cat(plain, trailer), ""},
		{"an end-stream frame", cat(gz, endStream), ""},
		{"cut after an envelope", cat(plain, empty, gz), ""},
		{"cut in the second prefix", cat(plain, gz[:2]), "2 of the 5 bytes of an envelope's prefix"},
		{"cut in the third message", cat(gz, gz, gz[:7]), "a message of 10 bytes with 8 still to come"},
		{"cut after a prefix", cat(empty, plain[:5]), "a message of 5 bytes with 5 still to come"},
		{"2^32-1 bytes announced", cat(huge, []byte("abc")), "a message of 4294967295 bytes with 4294967292 still to come"},
	} {
		for _, how := range []string{"whole", "a byte at a time", "with io.EOF"} {
			var r io.Reader = bytes.NewReader(c.body)
			switch how {
			case "a byte at a time":
				r = iotest.OneByteReader(r)
			case "with io.EOF":
				r = iotest.DataErrReader(r)
			}
			b := &envelopeBody{ReadCloser: io.NopCloser(r)}
			got, err := io.ReadAll(b)
			if c.cut == "" {
				if err != nil || !bytes.Equal(got, c.body) {
					t.Errorf("%s, read %s: %d bytes of %d, %v; want all of it", c.name, how, len(got), len(c.body), err)
				}
				continue
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !errors.Is(err, ErrCutEnvelope) || !strings.Contains(err.Error(), c.cut) {
				t.Errorf("%s, read %s: %v; want invalid_argument naming ErrCutEnvelope and %q", c.name, how, err, c.cut)
			}
			if !bytes.Equal(got, c.body) {
				t.Errorf("%s, read %s: %d bytes of %d passed", c.name, how, len(got), len(c.body))
			}
		}
	}
	// Each read that ends a compressed message says so, however many
	// came before it in the same read.
	var e envelopes
	for i, c := range []struct {
		p    []byte
		want bool
	}{
		{cat(gz, gz, plain), true},
		{cat(plain, gz[:3]), false},
		{gz[3:], true},
		{cat(trailer, endStream), false},
	} {
		if got := e.whole(c.p); got != c.want {
			t.Errorf("read %d of the envelopes: whole says a compressed message ended: %v, want %v", i, got, c.want)
		}
	}
}

// math32 is the largest envelope length, 2^32-1.
const math32 = 1<<32 - 1

// BenchmarkEnvelopeBody: a streamed Commit of 64 MiB in messages of
// 4 MiB, read in 32 KiB buffers as Connect reads it, bare and through
// the envelopeBody of CutEnvelopes.
func BenchmarkEnvelopeBody(b *testing.B) {
	msg := envelope(0, make([]byte, 4<<20))
	body := bytes.Repeat(msg, 16)
	buf := make([]byte, 32<<10)
	for _, wrapped := range []bool{false, true} {
		name := "bare"
		if wrapped {
			name = "envelopeBody"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r io.Reader = bytes.NewReader(body)
				if wrapped {
					r = &envelopeBody{ReadCloser: io.NopCloser(r)}
				}
				for {
					if _, err := r.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
