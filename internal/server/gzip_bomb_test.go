package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// gzipOfSpaces is a gzip stream of n spaces (about n/1000 bytes).
func gzipOfSpaces(t testing.TB, prefix string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte(" "), 1<<16)
	for n > 0 {
		k := min(n, len(chunk))
		_, _ = zw.Write(chunk[:k])
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzipBombStopsAtLimit: driven as Connect drives a decompressor (a
// message read through a limit of the read limit plus one byte, then the
// rest read to measure it), the server's gzip reader inflates at most one
// byte past the limit of a message that inflates to 64 times it, and
// fails the measuring read; a message within the limit inflates whole.
// Control: Connect's default, the standard library's reader, inflates all
// 64 MiB. Before 2026-12-06 the server used that default, and a 2 MiB
// request inflating to 2 GiB took 7 s of its CPU before it was refused.
func TestGzipBombStopsAtLimit(t *testing.T) {
	const limit = 1 << 20
	bomb := gzipOfSpaces(t, "", 64<<20)
	small := gzipOfSpaces(t, "", limit)
	cases := []struct {
		name string
		dec  interface {
			io.Reader
			Reset(io.Reader) error
		}
		body     []byte
		inflated int64 // bytes yielded in all, at most
		refused  bool  // the measuring read fails
	}{
		{"bomb", &boundedGunzip{most: limit + 1}, bomb, limit + 1, true},
		{"within the limit", &boundedGunzip{most: limit + 1}, small, limit, false},
		{"control: the standard reader", &gzip.Reader{}, bomb, 64 << 20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // a reader is reused from a pool: each message starts afresh
				if err := c.dec.Reset(bytes.NewReader(c.body)); err != nil {
					t.Fatal(err)
				}
				var dst bytes.Buffer
				n, err := dst.ReadFrom(io.LimitReader(c.dec, limit+1))
				if err != nil {
					t.Fatal(err)
				}
				rest, err := io.Copy(io.Discard, c.dec)
				if (err != nil) != c.refused {
					t.Fatalf("the measuring read: %v, want refused %v", err, c.refused)
				}
				if n+rest > c.inflated || c.name == "control: the standard reader" && n+rest != c.inflated {
					t.Fatalf("inflated %d bytes, want at most %d", n+rest, c.inflated)
				}
			}
		})
	}
}
