package main

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// FuzzParseTime: replay's --to-time never panics the parser, and a time it
// accepts is a commit stamp that means what was written: a positive
// number of nanoseconds since 1970 (0 would mean "no time target" and
// replay everything), which reads back to itself both as a decimal and as
// the RFC 3339 time it names. The seeds include both ends of the range,
// which must parse, and the first instants past each, which must not.
func FuzzParseTime(f *testing.F) {
	accept := map[string]int64{
		"1": 1, strconv.FormatInt(math.MaxInt64, 10): math.MaxInt64,
		"1970-01-01T00:00:00.000000001Z":      1,
		"2262-04-11T23:47:16.854775807Z":      math.MaxInt64,
		"2026-01-02T15:04:05.5+01:00":         time.Date(2026, 1, 2, 14, 4, 5, 5e8, time.UTC).UnixNano(),
		"1970-01-01T01:00:00.000000001+01:00": 1,
	}
	for s := range accept {
		f.Add(s)
	}
	for _, s := range []string{"0", "-1", "9223372036854775808", "1970-01-01T00:00:00Z",
		"2262-04-11T23:47:16.854775808Z", "1969-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "+5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := parseTime(s)
		if want, ok := accept[s]; ok && (err != nil || ns != want) {
			t.Fatalf("parseTime(%q) = %d, %v; want %d", s, ns, err, want)
		}
		if err != nil {
			if ns != 0 {
				t.Fatalf("parseTime(%q) refused (%v) with %d", s, err, ns)
			}
			return
		}
		if ns <= 0 {
			t.Fatalf("parseTime(%q) = %d: a stamp must be positive", s, ns)
		}
		if again, err := parseTime(strconv.FormatInt(ns, 10)); err != nil || again != ns {
			t.Fatalf("parseTime(%q) = %d, whose decimal form reads as %d, %v", s, ns, again, err)
		}
		rfc := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		if again, err := parseTime(rfc); err != nil || again != ns {
			t.Fatalf("parseTime(%q) = %d, whose time %s reads as %d, %v", s, ns, rfc, again, err)
		}
	})
}

// FuzzParseLists: bench's --growth-pages / --growth-batches and
// validate's --only never panic their parsers; a refusal is a usage error
// (exit status 2), and what is accepted is what was asked: positive counts
// (parseCounts), benchmark numbers that exist (parseOnly), one for each
// comma-separated item, which read back the same when joined again.
func FuzzParseLists(f *testing.F) {
	for _, s := range []string{"1", "1,2,3", " 4 , 5", "#3,10", "0", "-1", "1,,2", "11", "x", "", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		counts, err := parseCounts("--growth-pages", s)
		if err != nil {
			if !errors.Is(err, errUsage) || counts != nil {
				t.Fatalf("parseCounts(%q) = %v, %v: want no counts and a usage error", s, counts, err)
			}
		} else {
			if len(counts) != strings.Count(s, ",")+1 || slices.Min(counts) < 1 {
				t.Fatalf("parseCounts(%q) = %v: want one count >= 1 per item", s, counts)
			}
			joined := joinInts(counts)
			if again, err := parseCounts("--growth-pages", joined); err != nil || !slices.Equal(again, counts) {
				t.Fatalf("parseCounts(%q) = %v, which joined as %q reads as %v, %v", s, counts, joined, again, err)
			}
		}
		if s == "1,2,3" && !slices.Equal(counts, []int{1, 2, 3}) {
			t.Fatalf("parseCounts(%q) = %v, %v", s, counts, err)
		}
		only, err := parseOnly(s)
		if err != nil {
			if !errors.Is(err, errUsage) || only != nil {
				t.Fatalf("parseOnly(%q) = %v, %v: want nothing and a usage error", s, only, err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if only != nil {
				t.Fatalf("parseOnly(%q) = %v, want none (all benchmarks)", s, only)
			}
			return
		}
		if len(only) != strings.Count(s, ",")+1 {
			t.Fatalf("parseOnly(%q) = %v: want one number per item", s, only)
		}
		known := map[int]bool{}
		for _, b := range harness.All() {
			known[b.ID] = true
		}
		for _, n := range only {
			if !known[n] {
				t.Fatalf("parseOnly(%q) = %v: %d is no benchmark", s, only, n)
			}
		}
		if s == "#3,10" && !slices.Equal(only, []int{3, 10}) {
			t.Fatalf("parseOnly(%q) = %v", s, only)
		}
	})
}

// joinInts writes ns as "a,b,c".
func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}
