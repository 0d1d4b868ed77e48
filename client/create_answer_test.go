package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestCreatePagesAnswerChecked: a CreatePages answer of the right count
// whose IDs the batch cannot have been given (0, one ID twice, another
// ID than a spec named) is refused with ErrBadResponse naming it. Until
// 2026-12-06 the IDs were returned as they came: a caller wrote to page 0,
// to one page twice, or to another page than it asked for. The control,
// distinct IDs with the spec's own, is accepted.
func TestCreatePagesAnswerChecked(t *testing.T) {
	specs := []mmsb.PageSpec{{Size: 8}, {ID: 7, Size: 8}, {Size: 8}}
	for _, tc := range []struct {
		ids  []uint64
		says string // "" for the control
	}{
		{[]uint64{5, 7, 0}, "page 2 answered with ID 0"},
		{[]uint64{5, 8, 6}, "page 1 answered with ID 8, asked for ID 7"},
		{[]uint64{5, 7, 5}, "ID 5 answered for two pages"},
		{[]uint64{9, 7, 5}, ""},
	} {
		c := fakeClient(t, &oddServer{ids: tc.ids})
		ids, err := c.CreatePages(context.Background(), specs)
		if tc.says == "" {
			if err != nil || len(ids) != 3 || ids[1] != 7 {
				t.Fatalf("control %v: %v, %v", tc.ids, ids, err)
			}
			continue
		}
		if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), tc.says) || ids != nil {
			t.Fatalf("answer %v: %v, %v; want no IDs and ErrBadResponse saying %q", tc.ids, ids, err, tc.says)
		}
	}
}
