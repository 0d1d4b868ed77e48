package tick

import (
	"testing"

	"github.com/mmsb-go/mmsb"
)

// BenchmarkNew: an orchestrator with the default intake queue (65,536
// cells, about 17 MB), created and closed. Its ring is make's zeroed
// memory, not written until used (intakeCell).
func BenchmarkNew(b *testing.B) {
	e, err := mmsb.Open("", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.ReportAllocs()
	for b.Loop() {
		o, err := New(e, &Options{SkipStartupResync: true})
		if err != nil {
			b.Fatal(err)
		}
		o.Close()
	}
}
