package mmsb

import (
	"bytes"
	"errors"
	"testing"
)

// ReadPageRange copies a range of a page: clipped at the page's end, empty
// at it, refused past it or with a negative offset or length, and on a
// missing page or a closed bus, appending to dst in every accepted case.
func TestReadPageRange(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 1, 100)
	commitT(t, e, w(ids[0], 10, "0123456789"))
	page, ep, err := e.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int
		want   []byte
	}{
		{0, 100, page},
		{0, 1000, page},
		{10, 10, []byte("0123456789")},
		{15, 3, []byte("567")},
		{95, 10, page[95:]},
		{100, 10, nil},
		{50, 0, nil},
	} {
		got, gotEp, err := e.ReadPageRange(ids[0], c.off, c.n, []byte("x"))
		if err != nil || !bytes.Equal(got, append([]byte("x"), c.want...)) || gotEp != ep {
			t.Errorf("ReadPageRange(%d, %d): %q epoch %d, %v; want %q epoch %d", c.off, c.n, got, gotEp, err, c.want, ep)
		}
	}
	for _, c := range []struct {
		id     PageID
		off, n int
		want   error
	}{
		{ids[0], 101, 1, ErrOutOfRange},
		{ids[0], -1, 1, ErrInvalidOption},
		{ids[0], 0, -1, ErrInvalidOption},
		{ids[0] + 1, 0, 1, ErrPageNotFound},
	} {
		if got, _, err := e.ReadPageRange(c.id, c.off, c.n, nil); !errors.Is(err, c.want) || len(got) != 0 {
			t.Errorf("ReadPageRange(%d, %d, %d): %q, %v; want %v", c.id, c.off, c.n, got, err, c.want)
		}
	}
	e.Close()
	if _, _, err := e.ReadPageRange(ids[0], 0, 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
