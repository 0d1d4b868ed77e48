package runstat

import (
	"runtime"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.xs...)
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.xs[i] {
				t.Fatalf("Median reordered its input: %v, was %v", tc.xs, in)
			}
		}
	}
}

func TestLoadAverage(t *testing.T) {
	la := LoadAverage()
	if runtime.GOOS == "linux" && len(strings.Fields(la)) != 3 {
		t.Fatalf("LoadAverage() = %q, want three figures on Linux", la)
	}
}
