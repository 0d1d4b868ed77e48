package mmsb

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// statsAnswer is what a caller of StatsWithHash keeps: the hash and the
// LSN and page count it claims to be at.
type statsAnswer struct {
	lsn   LSN
	pages int
	hash  uint64
}

// checkStatsAnswers replays e's log to each answer's LSN and compares.
func checkStatsAnswers(e *Bus, answers []statsAnswer) error {
	for _, a := range answers {
		r, err := e.Replay(ctx, ReplayTarget{ToLSN: a.lsn})
		if err != nil {
			return err
		}
		h, err := r.StateHash()
		pages := r.Stats().Pages
		_ = r.Close()
		if err != nil {
			return err
		}
		if h != a.hash || pages != a.pages {
			return fmt.Errorf("answer at LSN %d: hash %#x over %d pages; the state at that LSN: %#x over %d pages", a.lsn, a.hash, a.pages, h, pages)
		}
	}
	return nil
}

// TestStatsWithHashIsOneState: under concurrent commits and page creation,
// every StatsWithHash answer is the state at its LastLSN (checked by a
// replay). The negative control pairs Stats and StateHash from two calls
// with a commit between them, and the same check catches it.
func TestStatsWithHashIsOneState(t *testing.T) {
	e := openT(t, "/db", &Options{Clock: testClock()})
	id, err := e.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%16 == 0 {
				if _, err := e.CreatePage(ctx, PageSpec{Size: 32}); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i%56), []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var answers []statsAnswer
	for range 40 {
		st, h, err := e.StatsWithHash()
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, statsAnswer{st.LastLSN, st.Pages, h})
	}
	close(stop)
	wg.Wait()
	if err := checkStatsAnswers(e, answers); err != nil {
		t.Fatal(err)
	}

	// Negative control: two calls, a commit between them.
	st := e.Stats()
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("between the calls"))}); err != nil {
		t.Fatal(err)
	}
	h, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkStatsAnswers(e, []statsAnswer{{st.LastLSN, st.Pages, h}}); err == nil {
		t.Fatal("negative control: a hash of a later state passed as the state at the earlier LSN")
	}

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.StatsWithHash(); !errors.Is(err, ErrClosed) {
		t.Fatalf("StatsWithHash after Close: %v, want ErrClosed", err)
	}
}
