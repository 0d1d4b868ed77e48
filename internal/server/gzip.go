package server

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
)

// errInflatedPastLimit ends the decompression of a request message that
// inflates past the read limit.
var errInflatedPastLimit = errors.New("server: the compressed message inflates past the read limit; decompression stopped")

// BoundedGzip returns the handler option that decompresses gzip request
// messages, and compresses responses, as Connect's default does, except
// that a message inflating past maxBytes stops being decompressed there,
// refused with ErrRequestTooLarge naming setting, the flag or option
// that sets maxBytes (Mux: --max-request-bytes; the inspector's service
// takes it too).
// Connect's own decompressor refuses such a message too
// (ResourceExhausted), but only after inflating all of it to name its
// size: a 2 MiB request inflating to 2 GiB cost the server 7 s of CPU, so
// one of --max-request-bytes (64 MiB) would have cost it many minutes
// (TestGzipBombStopsAtLimit).
func BoundedGzip(maxBytes int, setting string) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &boundedGunzip{most: int64(maxBytes) + 1, flag: setting} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) })
}

// boundedGunzip is a gzip reader that yields at most most bytes per
// message: Connect reads a message through a limit of the read limit
// plus one byte, and reads on only to measure one that reached it.
type boundedGunzip struct {
	gzip.Reader
	most, left int64
	flag       string // the flag setting the limit, if any
}

// Reset starts a message.
func (r *boundedGunzip) Reset(src io.Reader) error {
	r.left = r.most
	return r.Reader.Reset(src)
}

// Read reads the message, failing once it has yielded most bytes, or,
// where it names a flag, once it would yield more than the limit
// (most-1): within Connect's read of the limit plus one byte, so that the
// refusal Connect answers is this one, ErrRequestTooLarge naming the
// flag. Failing only past it, as Connect measures the message, Connect
// answered "message is larger than configured max N - unable to
// determine message size: ...", which the Go client took for an answer
// over its own read limit, telling its user to raise that
// (TestGzipRequestOverServerLimitNamed).
func (r *boundedGunzip) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, r.refusal()
	}
	if r.flag != "" && r.left == 1 {
		var one [1]byte
		if n, err := io.ReadFull(&r.Reader, one[:]); n == 0 {
			return 0, err // the message's end (io.EOF), or its failure
		}
		r.left = 0
		return 0, r.refusal()
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.Reader.Read(p)
	r.left -= int64(n)
	return n, err
}

// refusal is the error refusing a message inflating past the limit.
func (r *boundedGunzip) refusal() error {
	if r.flag != "" {
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%w: a compressed message inflating past %s %d (%w)",
			ErrRequestTooLarge, r.flag, r.most-1, errInflatedPastLimit))
	}
	return fmt.Errorf("%w (%d bytes)", errInflatedPastLimit, r.most-1)
}
