package replicate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// FuzzTermFile: any bytes in a node's term file are refused with
// ErrTermFile or read as a term; a term read for the stream is one that
// saveTerm's line for the stream and that term reads back, and a file
// naming another stream reads as 0. TestTermFileControls is the negative
// control.
func FuzzTermFile(f *testing.F) {
	f.Add([]byte("MMSB_LOG_b@1733300000000000000 7\n"), "MMSB_LOG_b@1733300000000000000")
	f.Add([]byte("MMSB_LOG_b@1 7\n"), "MMSB_LOG_b@2")
	f.Add([]byte("MMSB_LOG_b@1 0\n"), "MMSB_LOG_b@1")
	f.Add([]byte(" 7"), "")
	f.Add([]byte("MMSB_LOG_b@1 7 8\n\n"), "MMSB_LOG_b@1")
	f.Fuzz(func(t *testing.T, b []byte, stream string) {
		if err := checkTermFile(b, stream); err != nil {
			t.Fatal(err)
		}
	})
}

func checkTermFile(b []byte, stream string) error {
	term, err := parseTerm(b, "term", stream)
	if err != nil {
		if !errors.Is(err, ErrTermFile) {
			return fmt.Errorf("refusal does not wrap ErrTermFile: %w", err)
		}
		return nil
	}
	if term == 0 {
		return nil // another stream's file
	}
	again, err := parseTerm(termLine(stream, term), "term", stream)
	if err != nil {
		return fmt.Errorf("%q read as term %d; the line saved for it, %q, is refused: %w", b, term, termLine(stream, term), err)
	}
	if again != term {
		return fmt.Errorf("%q read as term %d; the line saved for it, %q, reads as %d", b, term, termLine(stream, term), again)
	}
	return nil
}

// TestTermFileControls: the saved line reads back (a parser refusing
// everything would pass the fuzz target), another stream's reads as 0,
// and damage is refused.
func TestTermFileControls(t *testing.T) {
	const s = "MMSB_LOG_b@17"
	if got, err := parseTerm(termLine(s, 9), "term", s); got != 9 || err != nil {
		t.Fatalf("saved line: %d, %v; want 9", got, err)
	}
	if got, err := parseTerm(termLine(s, 9), "term", "MMSB_LOG_b@18"); got != 0 || err != nil {
		t.Fatalf("another stream's line: %d, %v; want 0", got, err)
	}
	for _, bad := range []string{"", "\n", s, s + " 0\n", s + " x\n", " 9\n", s + " -1\n"} {
		if _, err := parseTerm([]byte(bad), "term", s); !errors.Is(err, ErrTermFile) {
			t.Errorf("%q: %v, want ErrTermFile", bad, err)
		}
		if err := checkTermFile([]byte(bad), s); err != nil {
			t.Error(err)
		}
	}
}

// TestTermFileErrorQuotesBoundedHead: a large damaged term file is named by
// its first 80 bytes and its size, not quoted whole (before, a 1 MiB file
// made a 1 MiB error message).
func TestTermFileErrorQuotesBoundedHead(t *testing.T) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = 'x'
	}
	_, err := parseTerm(big, "term", "MMSB_LOG_b@1")
	if !errors.Is(err, ErrTermFile) || len(err.Error()) > 300 || !strings.Contains(err.Error(), "first 80 of 1048576 bytes") {
		t.Fatalf("error of %d bytes: %.200s", len(err.Error()), err)
	}
}
