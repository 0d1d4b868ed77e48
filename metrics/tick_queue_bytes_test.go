package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// TestTickQueueBytesGauge: mmsb_tick_queue_bytes reports the bytes the
// intake queue holds in copies (tick.Orchestrator.QueueBytes), and drops
// to 0 once a tick drains the queue.
func TestTickQueueBytesGauge(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewTickCollector(o))
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(id, 0, make([]byte, 40))
	if err := o.Submit(ctx, &d); err != nil {
		t.Fatal(err)
	}
	want := o.QueueBytes()
	if want < 40 {
		t.Fatalf("QueueBytes %d for a queued 40-byte write", want)
	}
	if got := value(t, scrape(t, reg), "mmsb_tick_queue_bytes"); got != float64(want) {
		t.Fatalf("mmsb_tick_queue_bytes = %v, want %d", got, want)
	}
	if _, err := o.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := value(t, scrape(t, reg), "mmsb_tick_queue_bytes"); got != 0 {
		t.Fatalf("mmsb_tick_queue_bytes = %v after the tick drained the queue, want 0", got)
	}
}
