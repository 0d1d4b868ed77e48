package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestClientLocalRefusals: what the wire cannot carry is refused by the
// client, with the embedded bus's sentinel and words where the bus
// refuses it too, and nothing is sent. Until 2026-12-07: a page spec's
// Location was dropped (a GPU page created as a CPU page); a string that
// is not UTF-8 failed with code Internal (Commit, Bind, QueryLog) or was
// stored escaped (Submit, SetMetadata, CreatePage's metadata); a delta of
// an unknown form was refused as "no runs"; a provenance range past 4 GiB
// was ErrInvalidOption (the bus: ErrOutOfRange); WithTLS(nil) was taken
// with http:// and with WithHTTPClient. The controls: the same calls with
// good values succeed.
func TestClientLocalRefusals(t *testing.T) {
	ctx := context.Background()
	bus, c, _ := waveBus(t)
	count := func() int {
		ps, err := bus.Pages()
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	pages := count()
	check := func(name string, err, want error, words ...string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v; want %v", name, err, want)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
	for _, loc := range []mmsb.Location{mmsb.GPU, mmsb.Unified, 9} {
		_, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8, Location: loc})
		_, berr := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8, Location: loc})
		check("CreatePage location "+loc.String(), err, mmsb.ErrInvalidPage, "page spec 0 location "+loc.String())
		_, words, _ := strings.Cut(fmt.Sprint(err), " location ")
		if berr == nil || err == nil || !strings.HasSuffix(berr.Error(), " location "+words) {
			t.Errorf("CreatePage location %v: client says %v, bus says %v", loc, err, berr)
		}
	}
	if n := count(); n != pages {
		t.Errorf("refused CreatePages created %d pages", n-pages)
	}

	bad := "bad\xffsrc"
	_, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{1}), {Page: 1, Runs: []mmsb.Run{{Data: []byte{2}}}, Source: bad}})
	check("Commit source", err, mmsb.ErrInvalidOption, "Commit", "delta 1", "source", "UTF-8")
	check("Submit source", c.Submit(ctx, []mmsb.Delta{{Page: 1, Runs: []mmsb.Run{{Data: []byte{2}}}, Source: bad}}),
		mmsb.ErrInvalidOption, "Submit", "delta 0", "source")
	check("SetMetadata key", c.SetMetadata(ctx, 1, []mmsb.MetaEntry{{Key: "ok"}, {Key: "k\xff"}}), mmsb.ErrInvalidOption, "SetMetadata", "entry 1 key")
	_, err = c.CreatePage(ctx, mmsb.PageSpec{Size: 8, Meta: []mmsb.MetaEntry{{Key: "k\xff"}}})
	check("CreatePage metadata key", err, mmsb.ErrInvalidOption, "page spec 0 metadata key")
	check("Bind function", c.Bind(ctx, 2, "double\xff", nil, []mmsb.PageID{1}), mmsb.ErrInvalidOption, "Bind", "function name")
	check("QueryLog source", c.QueryLog(ctx, mmsb.LogQuery{Source: bad}, func(*mmsb.LoggedOp) bool { return true }),
		mmsb.ErrInvalidOption, "QueryLog", "source")

	_, err = c.Commit(ctx, []mmsb.Delta{{Page: 1, Form: 9, Runs: []mmsb.Run{{Data: []byte{9}}}}})
	check("Commit form 9", err, mmsb.ErrInvalidDelta, "unknown form 9")

	if strconv.IntSize == 64 {
		big := 1 << 20
		big <<= 20 // 1<<40, shifted at run time: 32-bit ints build too
		_, err = c.Provenance(ctx, 1, big, 1, 0)
		_, berr := bus.Provenance(ctx, 1, big, 1, 0)
		check("Provenance off 1<<40", err, mmsb.ErrOutOfRange, "past the largest page size")
		check("Bus.Provenance off 1<<40", berr, mmsb.ErrOutOfRange)
		_, err = c.Provenance(ctx, 1, 1, big>>8, 0)
		check("Provenance n 1<<32", err, mmsb.ErrOutOfRange)
	}

	_, err = client.New("http://localhost:1", client.WithTLS(nil))
	check("New http:// WithTLS(nil)", err, mmsb.ErrInvalidOption, "https://")
	_, err = client.New("https://localhost:1", client.WithTLS(nil), client.WithHTTPClient(&http.Client{}))
	check("New WithTLS(nil) WithHTTPClient", err, mmsb.ErrInvalidOption, "WithHTTPClient")

	// The controls.
	if cc, err := client.New("https://localhost:1", client.WithTLS(nil)); err != nil {
		t.Errorf("New https:// WithTLS(nil): %v", err)
	} else {
		_ = cc.Close()
	}
	if _, err := c.Commit(ctx, []mmsb.Delta{{Page: 1, Runs: []mmsb.Run{{Data: []byte{2}}}, Source: "good ✓"}}); err != nil {
		t.Errorf("Commit with a UTF-8 source: %v", err)
	}
	if err := c.SetMetadata(ctx, 1, []mmsb.MetaEntry{{Key: "ключ"}}); err != nil {
		t.Errorf("SetMetadata with a UTF-8 key: %v", err)
	}
	if _, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8, Location: mmsb.CPU}); err != nil {
		t.Errorf("CreatePage on the CPU: %v", err)
	}
	if _, err := c.Provenance(ctx, 1, 0, 1, 0); err != nil {
		t.Errorf("Provenance [0, 1) of page 1: %v", err)
	}
}
