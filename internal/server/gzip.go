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
// that a message inflating past maxBytes stops being decompressed there.
// Connect's own decompressor refuses such a message too
// (ResourceExhausted), but only after inflating all of it to name its
// size: a 2 MiB request inflating to 2 GiB cost the server 7 s of CPU, so
// one of --max-request-bytes (64 MiB) would have cost it many minutes
// (TestGzipBombStopsAtLimit).
func BoundedGzip(maxBytes int) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &boundedGunzip{most: int64(maxBytes) + 1} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) })
}

// boundedGunzip is a gzip reader that yields at most most bytes per
// message: Connect reads a message through a limit of the read limit
// plus one byte, and reads on only to measure one that reached it.
type boundedGunzip struct {
	gzip.Reader
	most, left int64
}

// Reset starts a message.
func (r *boundedGunzip) Reset(src io.Reader) error {
	r.left = r.most
	return r.Reader.Reset(src)
}

// Read reads the message, failing once it has yielded most bytes.
func (r *boundedGunzip) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, fmt.Errorf("%w (%d bytes)", errInflatedPastLimit, r.most-1)
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.Reader.Read(p)
	r.left -= int64(n)
	return n, err
}
