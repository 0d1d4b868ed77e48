package inspector_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/tick"
)

// lifecycleFixture is an inspector (with an orchestrator, so that Events
// has a source) over a small in-memory bus, served without auth. The test
// closes the inspector or the bus itself.
func lifecycleFixture(t *testing.T) (*mmsb.Bus, *inspector.Inspector, inspectorv1connect.InspectorServiceClient, string) {
	t.Helper()
	ctx := context.Background()
	bus := memBus(t)
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatal(err)
	}
	orch, err := tick.New(bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orch.Close() })
	ins, c, url := serveInspector(t, inspector.Options{Bus: bus, Ticks: orch, PollInterval: 10 * time.Millisecond})
	return bus, ins, c, url
}

// changesStarted opens a Changes stream on c and reads its first message.
func changesStarted(ctx context.Context, t *testing.T, c inspectorv1connect.InspectorServiceClient) *connect.ServerStreamForClient[inspectorv1.ChangesResponse] {
	t.Helper()
	changes, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !changes.Receive() {
		t.Fatalf("Changes sent no first message: %v", changes.Err())
	}
	return changes
}

// streamEnd waits (at most 10 s, a bound for a hang, not a timing
// assertion) for a stream to end and returns its error.
type receiver interface {
	Receive() bool
	Err() error
}

func streamEnd(s receiver) error {
	for s.Receive() {
	}
	return s.Err()
}

// An open Changes or Events stream ends with Unavailable when the inspector
// is closed: `mmsb serve --replicate` closes the old role's inspector (and
// then its bus) on a role change, and a browser tab left open must
// reconnect to the new role's inspector rather than poll a closed bus for
// ever, holding a goroutine and a connection (which also kept
// http.Server.Shutdown waiting for its deadline).
func TestStreamsEndWhenInspectorCloses(t *testing.T) {
	_, ins, c, _ := lifecycleFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changes := changesStarted(ctx, t, c)
	// The Events call returns once the server sends headers, which an
	// Events stream with no events yet does only when it ends: it runs in
	// a goroutine. Whether its handler is already waiting when Close comes
	// or starts after it, it must end with Unavailable.
	eventsEnd := make(chan error, 1)
	go func() {
		events, err := c.Events(ctx, connect.NewRequest(&inspectorv1.EventsRequest{}))
		if err != nil {
			eventsEnd <- err
			return
		}
		eventsEnd <- streamEnd(events)
	}()
	if err := ins.Close(); err != nil {
		t.Fatal(err)
	}
	ends := map[string]error{"Changes": streamEnd(changes), "Events": <-eventsEnd}
	for name, err := range ends {
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), inspector.ErrClosed.Error()) {
			t.Errorf("%s after Close: %v, want unavailable (%v)", name, err, inspector.ErrClosed)
		}
	}
}

// A Changes stream ends with Unavailable once the bus is closed, instead of
// reporting the same LSN for ever: the browser then shows the error and
// reconnects. Overview, which reads Bus.Stats (it keeps answering after
// Close), says the bus is closed too, as every other method does.
func TestClosedBusIsUnavailable(t *testing.T) {
	bus, _, c, _ := lifecycleFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changes := changesStarted(ctx, t, c)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := streamEnd(changes); connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), mmsb.ErrClosed.Error()) {
		t.Errorf("Changes after the bus closed: %v, want unavailable (%v)", err, mmsb.ErrClosed)
	}
	_, err := c.Overview(ctx, connect.NewRequest(&inspectorv1.OverviewRequest{}))
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), mmsb.ErrClosed.Error()) {
		t.Errorf("Overview of a closed bus: %v, want unavailable (%v)", err, mmsb.ErrClosed)
	}
	// A new Changes stream on the closed bus ends at once as well.
	again, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := streamEnd(again); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("a new Changes stream on a closed bus: %v, want unavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("streams did not end before the test's deadline")
	}
}

// The UI files are read-only: GET and HEAD serve them, any other method is
// refused with 405 and an Allow header, rather than answered with the file
// as if the write had been accepted.
func TestUIRefusesOtherMethods(t *testing.T) {
	_, _, _, url := lifecycleFixture(t)
	for _, tc := range []struct {
		method string
		status int
	}{
		{http.MethodGet, http.StatusOK},
		{http.MethodHead, http.StatusOK},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodPut, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
		{http.MethodPatch, http.StatusMethodNotAllowed},
	} {
		for _, path := range []string{"/ui/app.js", "/ui/"} {
			req, err := http.NewRequest(tc.method, url+path, strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: status %d, want %d", tc.method, path, resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: Allow %q, want \"GET, HEAD\"", tc.method, path, resp.Header.Get("Allow"))
			}
		}
	}
}

// TestInspectorBusClosed: a bus closed while the pages view is open shows
// its error in the banner. The view itself refreshes only when the Changes
// stream reports a change, so without the stream's error the table and
// the LSN would keep looking live.
func TestInspectorBusClosed(t *testing.T) {
	f := newFixture(t)
	tb := newBrowser(t).newTab(t)
	f.login(tb, readToken)
	if err := f.bus.Close(); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the closed bus in the error banner", fmt.Sprintf(`!%s.hidden && %s.textContent.includes(%q)`,
		jsQuery("error"), jsQuery("error"), mmsb.ErrClosed.Error()))
	tb.screenshot("bus-closed")
	tb.checkConsole(t, "closed bus")
}
