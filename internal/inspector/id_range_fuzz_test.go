package inspector

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// FuzzParseIDRange: the page search box's "42" / "10-20" syntax, as it
// arrives in a ListPages request. Whatever parses is a non-empty range
// (lo <= hi), a single ID when there is no dash, and its canonical
// spelling parses to the same range.
func FuzzParseIDRange(f *testing.F) {
	for _, s := range []string{"42", "10-20", " 3 - 3 ", "20-10", "1-", "-1", "18446744073709551615", "1-2-3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkIDRange(s); err != nil {
			t.Fatal(err)
		}
	})
}

func checkIDRange(s string) error {
	lo, hi, ok := parseIDRange(s)
	if !ok {
		return nil
	}
	if lo > hi {
		return fmt.Errorf("%q parsed as the empty range %d-%d", s, lo, hi)
	}
	canon := fmt.Sprintf("%d-%d", lo, hi)
	if l2, h2, ok2 := parseIDRange(canon); !ok2 || l2 != lo || h2 != hi {
		return fmt.Errorf("%q parsed as %d-%d, whose spelling %q parses as %d-%d (%v)", s, lo, hi, canon, l2, h2, ok2)
	}
	if single := fmt.Sprint(lo); lo == hi {
		if l2, h2, ok2 := parseIDRange(single); !ok2 || l2 != lo || h2 != lo {
			return fmt.Errorf("%q parses as %d-%d (%v), want %d", single, l2, h2, ok2, lo)
		}
	}
	return nil
}

// TestParseIDRangeControls: the fuzz target's seeds parse as documented
// (a parser refusing everything would pass it), and the ones that must be
// refused are.
func TestParseIDRangeControls(t *testing.T) {
	for _, c := range []struct {
		s      string
		lo, hi mmsb.PageID
		ok     bool
	}{
		{"42", 42, 42, true}, {"10-20", 10, 20, true}, {" 3 - 3 ", 3, 3, true},
		{"18446744073709551615", 1<<64 - 1, 1<<64 - 1, true},
		{"20-10", 0, 0, false}, {"1-", 0, 0, false}, {"-1", 0, 0, false}, {"1-2-3", 0, 0, false}, {"x", 0, 0, false},
	} {
		lo, hi, ok := parseIDRange(c.s)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("parseIDRange(%q) = %d, %d, %v; want %d, %d, %v", c.s, lo, hi, ok, c.lo, c.hi, c.ok)
		}
		if err := checkIDRange(c.s); err != nil {
			t.Error(err)
		}
	}
}
