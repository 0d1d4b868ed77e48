package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadAsOfInsideBatchAnswersItsEnd: a Read as of an LSN inside a
// batch answers the batch end's bytes (Bus.ReadPageAt stops there) and,
// as its lsn, the batch's last LSN, the LSN those bytes are at: through
// Connect, gRPC and JSON, for one page (a replay of that page) and for
// several (a replay of the bus). Until 2026-12-07 the answer named the
// LSN asked, a state no reader saw. An LSN that ends its batch is
// answered as itself (the control), and the Go client accepts the later
// LSN (it refused any other than the one asked).
func TestReadAsOfInsideBatchAnswersItsEnd(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run(map[string]string{"": "memory", "disk": "disk"}[dir], func(t *testing.T) {
			o := fixOpts{}
			if dir != "" {
				o.dir = t.TempDir()
			}
			f := newFixture(t, o)
			ctx := context.Background()
			ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
			if err != nil {
				t.Fatal(err)
			}
			x, y := ids[0], ids[1]
			if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(x, 0, []byte("x0")), mmsb.Write(y, 0, []byte("y0"))}); err != nil {
				t.Fatal(err)
			}
			batch, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(x, 0, []byte("x1")), mmsb.Write(y, 0, []byte("y1")), mmsb.Write(x, 2, []byte("x2"))})
			if err != nil {
				t.Fatal(err)
			}
			before := batch.FirstLSN - 1 // the last LSN of the commit before: a batch end
			if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(x, 0, []byte("zz"))}); err != nil {
				t.Fatal(err)
			}
			grpc, err := client.New(f.http.URL, client.WithGRPC())
			if err != nil {
				t.Fatal(err)
			}
			one := []*mmsbv1.ReadItem{{Page: uint64(x)}}
			two := []*mmsbv1.ReadItem{{Page: uint64(x)}, {Page: uint64(y)}}
			for _, c := range []struct {
				name string
				c    *client.Client
			}{{"Connect", f.c}, {"gRPC", grpc}} {
				for _, items := range [][]*mmsbv1.ReadItem{one, two} {
					for lsn := batch.FirstLSN; lsn <= batch.LastLSN; lsn++ {
						resp, err := c.c.Read(ctx, items, lsn)
						if err != nil {
							t.Fatalf("%s: Read of %d pages as of LSN %d inside the batch %d..%d: %v", c.name, len(items), lsn, batch.FirstLSN, batch.LastLSN, err)
						}
						if got := string(resp.GetPages()[0].GetData()[:4]); got != "x1x2" || mmsb.LSN(resp.GetLsn()) != batch.LastLSN {
							t.Errorf("%s: Read of %d pages as of LSN %d inside the batch %d..%d: %q as of LSN %d; want the batch end's \"x1x2\" as of LSN %d",
								c.name, len(items), lsn, batch.FirstLSN, batch.LastLSN, got, resp.GetLsn(), batch.LastLSN)
						}
					}
					resp, err := c.c.Read(ctx, items, before)
					if err != nil {
						t.Fatal(err)
					}
					if got := string(resp.GetPages()[0].GetData()[:2]); got != "x0" || mmsb.LSN(resp.GetLsn()) != before {
						t.Errorf("%s: Read of %d pages as of LSN %d, a batch's end: %q as of LSN %d; want \"x0\" as of LSN %d",
							c.name, len(items), before, got, resp.GetLsn(), before)
					}
				}
			}
			for _, body := range []string{
				fmt.Sprintf(`{"items":[{"page":"%d"}],"asOfLsn":"%d"}`, x, batch.FirstLSN),
				fmt.Sprintf(`{"items":[{"page":"%d"},{"page":"%d"}],"asOfLsn":"%d"}`, x, y, batch.FirstLSN),
			} {
				code, answer := postJSON(t, f.http.URL, "Read", body, nil)
				if want := fmt.Sprintf(`"lsn":"%d"`, batch.LastLSN); code != http.StatusOK || !strings.Contains(strings.ReplaceAll(answer, " ", ""), want) {
					t.Errorf("JSON Read %s: %d %s; want %s (the batch's end)", body, code, answer, want)
				}
			}
		})
	}
}
