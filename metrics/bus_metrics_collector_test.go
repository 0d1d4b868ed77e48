package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
)

// NewBusMetricsCollector exports what its function returns under the bus
// metrics' names, and nothing while the function has no bus.
func TestBusMetricsCollector(t *testing.T) {
	var m mmsb.Metrics
	ok := false
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBusMetricsCollector(func() (mmsb.Metrics, bool) { return m, ok }))
	if fams := scrape(t, reg); len(fams) != 0 {
		t.Fatalf("exported %d families without a bus, want none", len(fams))
	}
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	m, ok = bus.Metrics(), true
	m.Commits += 40 // what the buses before it committed
	fams := scrape(t, reg)
	if got := value(t, fams, "mmsb_commits_total"); got != 40 {
		t.Errorf("mmsb_commits_total = %v, want 40", got)
	}
	if got := value(t, fams, "mmsb_committed_lsn"); got != 1 {
		t.Errorf("mmsb_committed_lsn = %v, want 1", got)
	}
	if n, want := len(fams), len(scrape(t, newBusRegistry(t, bus))); n != want {
		t.Errorf("%d families, NewBusCollector exports %d", n, want)
	}
}

func newBusRegistry(t *testing.T, bus *mmsb.Bus) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBusCollector(bus))
	return reg
}
