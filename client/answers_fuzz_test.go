package client

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// FuzzReadAnswer: any bytes a server may send as a Read answer, for two
// items asked (one range, then a whole page), decode without panicking;
// an answer of as many pages as items (Read refuses another count before
// checkRead) is refused with ErrBadResponse or is of the items asked: the
// same page and offset, as many bytes as a range asked for, at the as-of
// LSN asked for. The answer a server would send for the items is always
// accepted, and the same answer with one field off (another page, offset,
// length or LSN) always refused, so every input checks checkRead both
// ways, seeds included.
func FuzzReadAnswer(f *testing.F) {
	for _, tc := range []struct {
		page       uint64
		off, n     uint32
		asOf       uint64
		answerPage uint64
	}{{1, 0, 4, 0, 1}, {1 << 63, 1<<32 - 1, 1, 9, 1 << 63}, {5, 2, 0, 3, 6}} {
		ans, err := proto.Marshal(&mmsbv1.ReadResponse{Pages: []*mmsbv1.PageData{
			{Page: tc.answerPage, Off: tc.off, Data: make([]byte, tc.n)}, {Page: tc.page + 1, Data: []byte{1}}}, Lsn: max(tc.asOf, 3)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ans, tc.page, tc.off, tc.n, tc.asOf)
	}
	f.Fuzz(func(t *testing.T, answer []byte, page uint64, off, n uint32, asOf uint64) {
		n %= 1 << 12 // the valid answer below allocates n bytes
		items := []*mmsbv1.ReadItem{{Page: page, Off: off, Length: n}, {Page: page + 1}}
		var m mmsbv1.ReadResponse
		if proto.Unmarshal(answer, &m) == nil && len(m.GetPages()) == len(items) {
			if err := checkRead(items, mmsb.LSN(asOf), &m); err != nil {
				if !errors.Is(err, ErrBadResponse) {
					t.Fatalf("refusal wraps no ErrBadResponse: %v", err)
				}
			} else {
				for i, p := range m.GetPages() {
					it := items[i]
					if p.GetPage() != it.GetPage() || p.GetOff() != it.GetOff() || it.GetLength() != 0 && uint64(len(p.GetData())) != uint64(it.GetLength()) {
						t.Fatalf("item %d: asked %v, accepted %v", i, it, p)
					}
				}
				// As of an LSN inside a batch the answer is at the
				// batch's end: never before the LSN asked.
				if asOf != 0 && m.GetLsn() < asOf {
					t.Fatalf("asked as of LSN %d, accepted an answer as of the earlier %d", asOf, m.GetLsn())
				}
			}
		}
		valid := func() *mmsbv1.ReadResponse {
			return &mmsbv1.ReadResponse{Pages: []*mmsbv1.PageData{{Page: page, Off: off, Data: make([]byte, n)},
				{Page: page + 1, Data: []byte{7, 7}}}, Lsn: max(asOf, 1)}
		}
		if err := checkRead(items, mmsb.LSN(asOf), valid()); err != nil {
			t.Fatalf("the answer a server sends for %v as of %d is refused: %v", items, asOf, err)
		}
		for what, spoil := range map[string]func(m *mmsbv1.ReadResponse){
			"page":   func(m *mmsbv1.ReadResponse) { m.Pages[1].Page = page + 2 },
			"offset": func(m *mmsbv1.ReadResponse) { m.Pages[0].Off = off + 1 },
			"length": func(m *mmsbv1.ReadResponse) { m.Pages[0].Data = append(m.Pages[0].Data, 0) },
			"LSN":    func(m *mmsbv1.ReadResponse) { m.Lsn = asOf - 1 }, // earlier; a later one is the end of asOf's batch
		} {
			m := valid()
			spoil(m)
			err := checkRead(items, mmsb.LSN(asOf), m)
			if what == "length" && n == 0 || what == "LSN" && asOf == 0 {
				continue // a whole page has any length; no as-of LSN, any LSN
			}
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("an answer of another %s for %v as of %d: %v, want ErrBadResponse", what, items, asOf, err)
			}
		}
	})
}

// FuzzListPagesAnswer: any bytes a server may send as a ListPages answer
// decode without panicking, and checkList refuses them with
// ErrBadResponse or they are a page of the listing asked for: at most
// limit pages (when not 0), IDs strictly ascending above after, and a
// next_after_id of 0 or the last page's ID. The answer a server would send
// is always accepted, and it with a page repeated, a page not above after
// or another next_after_id always refused, seeds included.
func FuzzListPagesAnswer(f *testing.F) {
	for _, tc := range []struct {
		after uint64
		limit uint16
	}{{0, 2}, {7, 0}, {1<<64 - 4, 3}} {
		ans, err := proto.Marshal(&mmsbv1.ListPagesResponse{Pages: []*mmsbv1.PageInfo{{Id: tc.after + 1}, {Id: tc.after + 2}}, NextAfterId: tc.after + 2})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ans, tc.after, tc.limit)
	}
	f.Fuzz(func(t *testing.T, answer []byte, after uint64, limit uint16) {
		var m mmsbv1.ListPagesResponse
		if proto.Unmarshal(answer, &m) == nil {
			if err := checkList(mmsb.PageID(after), int(limit), &m); err != nil {
				if !errors.Is(err, ErrBadResponse) {
					t.Fatalf("refusal wraps no ErrBadResponse: %v", err)
				}
			} else {
				ps := m.GetPages()
				if limit > 0 && len(ps) > int(limit) {
					t.Fatalf("accepted %d pages for limit %d", len(ps), limit)
				}
				prev := after
				for _, p := range ps {
					if p.GetId() <= prev {
						t.Fatalf("accepted page %d after %d (asked after %d)", p.GetId(), prev, after)
					}
					prev = p.GetId()
				}
				if next := m.GetNextAfterId(); next != 0 && (len(ps) == 0 || next != prev) {
					t.Fatalf("accepted next_after_id %d with %d pages, the last %d", next, len(ps), prev)
				}
			}
		}
		// The answer a server sends: up to two pages above after.
		k := min(uint64(2), 1<<64-1-after)
		if limit > 0 {
			k = min(k, uint64(limit))
		}
		valid := func() *mmsbv1.ListPagesResponse {
			m := &mmsbv1.ListPagesResponse{}
			for i := uint64(1); i <= k; i++ {
				m.Pages = append(m.Pages, &mmsbv1.PageInfo{Id: after + i})
			}
			if k > 0 {
				m.NextAfterId = after + k
			}
			return m
		}
		if err := checkList(mmsb.PageID(after), int(limit), valid()); err != nil {
			t.Fatalf("the answer a server sends after %d, limit %d, is refused: %v", after, limit, err)
		}
		if k == 0 {
			return
		}
		for what, spoil := range map[string]func(m *mmsbv1.ListPagesResponse){
			"a page repeated":        func(m *mmsbv1.ListPagesResponse) { m.Pages = append(m.Pages, m.Pages[len(m.Pages)-1]) },
			"a page not above after": func(m *mmsbv1.ListPagesResponse) { m.Pages[0].Id = after },
			"another next_after_id": func(m *mmsbv1.ListPagesResponse) {
				if m.NextAfterId++; m.NextAfterId == 0 { // past 2^64-1: one below the last instead
					m.NextAfterId -= 2
				}
			},
		} {
			m := valid()
			spoil(m)
			if err := checkList(mmsb.PageID(after), int(limit), m); !errors.Is(err, ErrBadResponse) {
				t.Fatalf("an answer with %s (after %d, limit %d): %v, want ErrBadResponse", what, after, limit, err)
			}
		}
	})
}

// FuzzCommitAnswer: any bytes a server may send as a Commit answer (or in
// an applied-but-failed error's detail), for a batch of 0 to 7 deltas,
// decode without panicking, and fillCommit refuses them with
// ErrBadResponse, touching no delta, or fills every delta: consecutive
// LSNs from first_lsn to last_lsn, one for each delta, and each delta's
// own epoch. The answer a server sends is always accepted, and it with
// one LSN too many or one epoch too few always refused.
func FuzzCommitAnswer(f *testing.F) {
	for _, n := range []uint8{1, 3} {
		m := &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 5 + uint64(n) - 1, Time: 9}
		for i := range n {
			m.Epochs = append(m.Epochs, uint64(i)+1)
		}
		ans, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ans, n, uint64(5))
	}
	f.Add([]byte{}, uint8(0), uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, answer []byte, n uint8, first uint64) {
		n %= 8
		ds := make([]mmsb.Delta, n)
		var m mmsbv1.CommitResponse
		if proto.Unmarshal(answer, &m) == nil {
			info, err := fillCommit(ds, &m)
			if err != nil {
				if !errors.Is(err, ErrBadResponse) {
					t.Fatalf("refusal wraps no ErrBadResponse: %v", err)
				}
				for i, d := range ds {
					if d.LSN != 0 || d.Epoch != 0 || d.Time != 0 {
						t.Fatalf("refused answer %v filled delta %d: %+v", &m, i, d)
					}
				}
			} else {
				if n == 0 || info.FirstLSN == 0 || info.LastLSN != ds[n-1].LSN {
					t.Fatalf("accepted answer %v for %d deltas: %+v", &m, n, info)
				}
				for i, d := range ds {
					if d.LSN != info.FirstLSN+mmsb.LSN(i) || uint64(d.Epoch) != m.GetEpochs()[i] || d.Time != m.GetTime() {
						t.Fatalf("accepted answer %v: delta %d filled as LSN %d, epoch %d", &m, i, d.LSN, d.Epoch)
					}
				}
			}
		}
		if n == 0 {
			return
		}
		first = max(first%(1<<63), 1) // room for the batch's LSNs
		valid := func() *mmsbv1.CommitResponse {
			m := &mmsbv1.CommitResponse{FirstLsn: first, LastLsn: first + uint64(n) - 1, Time: 3}
			for i := range n {
				m.Epochs = append(m.Epochs, uint64(i)+2)
			}
			return m
		}
		if _, err := fillCommit(make([]mmsb.Delta, n), valid()); err != nil {
			t.Fatalf("the answer a server sends for %d deltas from LSN %d is refused: %v", n, first, err)
		}
		for what, spoil := range map[string]func(m *mmsbv1.CommitResponse){
			"one LSN too many":  func(m *mmsbv1.CommitResponse) { m.LastLsn++ },
			"one epoch too few": func(m *mmsbv1.CommitResponse) { m.Epochs = m.Epochs[1:] },
			"first LSN 0":       func(m *mmsbv1.CommitResponse) { m.FirstLsn, m.LastLsn = 0, uint64(n)-1 },
		} {
			m := valid()
			spoil(m)
			if _, err := fillCommit(make([]mmsb.Delta, n), m); !errors.Is(err, ErrBadResponse) {
				t.Fatalf("an answer with %s for %d deltas: %v, want ErrBadResponse", what, n, err)
			}
		}
	})
}
