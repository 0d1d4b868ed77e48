package replicate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadMarker: a replica marker has one spelling per stream, so
// whatever bytes readMarker accepts are exactly markerLine of the stream
// it returns, and a valid stream name; anything else is ErrConfig naming
// the file. The seeds are a valid marker and one row per way to break
// it (a decoder that lost a check accepts one of them and fails the round
// trip or the name check).
func FuzzReadMarker(f *testing.F) {
	valid := markerLine("MMSB_LOG_orders")
	f.Add(valid)
	f.Add(valid[:len(valid)-1])                              // no newline
	f.Add(append(bytes.Clone(valid), '\n'))                  // two newlines
	f.Add([]byte("mmsb-replica  MMSB_LOG_orders\n"))         // two spaces
	f.Add([]byte("mmsb-replica MMSB_LOG_\n"))                // empty stream suffix
	f.Add([]byte("mmsb-replica MMSB_LOG_a.b\n"))             // a character streams do not have
	f.Add([]byte("mmsb-replica OTHER_orders\n"))             // not a log stream
	f.Add(markerLine("MMSB_LOG_" + strings.Repeat("x", 65))) // stream name too long
	f.Add([]byte("MMSB-REPLICA MMSB_LOG_orders\n"))          // prefix spelled otherwise
	f.Add(append([]byte("mmsb-replica MMSB_LOG_"), make([]byte, 300)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, markerFile)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := readMarker(dir)
		if err != nil {
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), path) {
				t.Fatalf("refusal %v: want ErrConfig naming %s", err, path)
			}
			return
		}
		if !bytes.Equal(markerLine(s), b) {
			t.Fatalf("%q read as stream %q, whose marker is %q", b, s, markerLine(s))
		}
		if !strings.HasPrefix(s, "MMSB_LOG_") || len(s) > len("MMSB_LOG_")+64 || len(s) == len("MMSB_LOG_") {
			t.Fatalf("%q read as stream %q, not a stream name", b, s)
		}
		if i := strings.IndexFunc(s[len("MMSB_LOG_"):], notStreamNameRune); i >= 0 {
			t.Fatalf("%q read as stream %q, which holds %q", b, s, s[len("MMSB_LOG_")+i:])
		}
	})
}

// notStreamNameRune reports whether c cannot be in a bus name: letters,
// digits, '_' and '-' can.
func notStreamNameRune(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		return false
	}
	return true
}
