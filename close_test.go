package mmsb

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// closeFixture opens an in-memory bus with two pages, a binding and a
// control edge, so that every read method has something to read.
func closeFixture(t *testing.T) (e *Bus, a, b PageID) {
	t.Helper()
	e = openT(t, "", &Options{Clock: testClock(), CheckpointBytes: -1})
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 64}, {Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[0], ids[2], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("abcdefgh"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	return e, ids[0], ids[1]
}

// TestCloseRacesReaders pins issue 7 item 1: readers hammering every read
// method while Close runs see either a correct answer or ErrClosed, never
// "page not found", an empty list or the hash of an empty store, and never
// touch the unmapped arenas (run under -race; the old code raced on the
// store and answered ErrPageNotFound after Close).
func TestCloseRacesReaders(t *testing.T) {
	e, a, _ := closeFixture(t)
	wantHash := hashOf(t, e)
	const readers = 4
	var started, done sync.WaitGroup
	started.Add(readers)
	done.Add(readers)
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		go func() {
			defer done.Done()
			first := true
			var buf []byte
			for {
				closed, err := readEverything(e, a, wantHash, &buf)
				if first {
					started.Done()
					first = false
				}
				if err != nil {
					errs <- err
					return
				}
				if closed {
					return
				}
			}
		}()
	}
	started.Wait() // every reader is in its loop: Close now races with them
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// readEverything calls every read method once. It reports closed once the bus
// answers ErrClosed, and an error for any answer that is neither right nor
// ErrClosed.
func readEverything(e *Bus, id PageID, wantHash uint64, buf *[]byte) (closed bool, err error) {
	check := func(what string, err error) error {
		switch {
		case errors.Is(err, ErrClosed):
			closed = true
			return nil
		case err != nil:
			return errors.New(what + ": " + err.Error())
		}
		return nil
	}
	var errs []error
	b, _, err := e.ReadPage(id, (*buf)[:0])
	if err == nil && string(b[:8]) != "abcdefgh" {
		errs = append(errs, errors.New("ReadPage read wrong bytes"))
	}
	*buf = b
	errs = append(errs, check("ReadPage", err))
	_, err = e.Page(id)
	errs = append(errs, check("Page", err))
	pages, err := e.Pages()
	if err == nil && len(pages) != 3 {
		errs = append(errs, errors.New("Pages listed the wrong pages"))
	}
	errs = append(errs, check("Pages", err))
	ids, err := e.PageIDs()
	if err == nil && len(ids) != 3 {
		errs = append(errs, errors.New("PageIDs listed the wrong pages"))
	}
	errs = append(errs, check("PageIDs", err))
	_, err = e.Flags(id)
	errs = append(errs, check("Flags", err))
	h, err := e.StateHash()
	if err == nil && h != wantHash {
		errs = append(errs, errors.New("StateHash changed"))
	}
	errs = append(errs, check("StateHash", err))
	if st := e.Stats(); st.Pages != 3 {
		errs = append(errs, errors.New("Stats lost the pages"))
	}
	_, err = e.Provenance(context.Background(), id, 0, 8, 0)
	errs = append(errs, check("Provenance", err))
	_, err = e.ValidateBatch([]Delta{Write(id, 0, []byte{1})}, func(int, error) {})
	errs = append(errs, check("ValidateBatch", err))
	_ = e.Edges()
	_ = e.Descendants(id)
	_, _ = e.Binding(id)
	_, _ = e.BindingFunc(id)
	_, _, _ = e.BindingParents(id, 0, 1)
	_, _ = e.ParentsRange(id, 0, 1)
	_, _ = e.ChildrenRange(id, 0, 1)
	_ = e.EdgesAmong([]PageID{id})
	_ = e.Bindings()
	_, _ = e.LastDerivation(id)
	_ = e.Pending()
	_ = e.LastLSN()
	_ = e.Err()
	return closed, errors.Join(errs...)
}

// TestEveryMethodAfterClose pins issue 7 item 1's table: every exported
// method of Bus, called after Close, either returns ErrClosed or (for the
// accessors documented on Close) answers with the state at Close. The test
// lists the methods by reflection, so a new method must be classified here.
func TestEveryMethodAfterClose(t *testing.T) {
	e, a, derived := closeFixture(t)
	lsn, edges, recov := e.LastLSN(), len(e.Edges()), e.Recovery()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	d := []delta.Delta{Write(a, 0, []byte{1})}
	closedErr := func(err error) error {
		if !errors.Is(err, ErrClosed) {
			return errors.New("got " + errString(err) + ", want ErrClosed")
		}
		return nil
	}
	want := func(ok bool, what string) error {
		if !ok {
			return errors.New(what)
		}
		return nil
	}
	table := map[string]func() error{
		"ValidateBatch": func() error { _, err := e.ValidateBatch(d, func(int, error) {}); return closedErr(err) },
		"Checkpoint":    func() error { _, err := e.Checkpoint(c); return closedErr(err) },
		"Commit":        func() error { _, err := e.Commit(c, d); return closedErr(err) },
		"CommitAsync":   func() error { _, err := e.CommitAsync(c, d); return closedErr(err) },
		"WaitDurable":   func() error { return closedErr(e.WaitDurable(c, lsn)) },
		"ApplyReplicated": func() error {
			return closedErr(e.ApplyReplicated(c, &ReplicatedRecord{FirstLSN: lsn + 1, LastLSN: lsn + 1}))
		},
		"RollingHash":       func() error { _, _, err := e.RollingHash(); return closedErr(err) },
		"VerifyRollingHash": func() error { return closedErr(e.VerifyRollingHash()) },
		"CreatePage":        func() error { _, err := e.CreatePage(c, PageSpec{Size: 8}); return closedErr(err) },
		"CreatePages":       func() error { _, err := e.CreatePages(c, []PageSpec{{Size: 8}}); return closedErr(err) },
		"FreePage":          func() error { return closedErr(e.FreePage(c, a)) },
		"SetMetadata":       func() error { return closedErr(e.SetMetadata(c, a, nil)) },
		"AddEdge":           func() error { return closedErr(e.AddEdge(c, a, derived, EdgeCompiler)) },
		"RemoveEdge":        func() error { return closedErr(e.RemoveEdge(c, a, derived, EdgeCompiler)) },
		"RemoveEdges":       func() error { return closedErr(e.RemoveEdges(c, a, derived)) },
		"Bind":              func() error { return closedErr(e.Bind(c, derived, "passthrough", nil, []PageID{a})) },
		"Unbind":            func() error { return closedErr(e.Unbind(c, derived)) },
		"ClearFlags":        func() error { return closedErr(e.ClearFlags(c, a, FlagStale)) },
		"Err":               func() error { return closedErr(e.Err()) },
		"Close":             func() error { return want(e.Close() == nil, "a second Close failed") },
		"Flush":             func() error { return closedErr(e.Flush(c)) },
		"Propagate":         func() error { _, err := e.Propagate(c); return closedErr(err) },
		"PropagateInto":     func() error { var r PropagateResult; return closedErr(e.PropagateInto(c, &r)) },
		"Provenance":        func() error { _, err := e.Provenance(c, a, 0, 1, 0); return closedErr(err) },
		"WaitLSN":           func() error { _, err := e.WaitLSN(c, 0); return closedErr(err) },
		"ProvenanceWith": func() error {
			_, err := e.ProvenanceWith(c, a, 0, 1, ProvenanceOptions{})
			return closedErr(err)
		},
		"QueryLog":      func() error { return closedErr(e.QueryLog(c, LogQuery{}, func(*LoggedOp) bool { return true })) },
		"ReadPage":      func() error { _, _, err := e.ReadPage(a, nil); return closedErr(err) },
		"ReadPageRange": func() error { _, _, err := e.ReadPageRange(a, 0, 1, nil); return closedErr(err) },
		"Page":          func() error { _, err := e.Page(a); return closedErr(err) },
		"Pages":         func() error { _, err := e.Pages(); return closedErr(err) },
		"PageIDs":       func() error { _, err := e.PageIDs(); return closedErr(err) },
		"Flags":         func() error { _, err := e.Flags(a); return closedErr(err) },
		"StateHash":     func() error { _, err := e.StateHash(); return closedErr(err) },
		"StatsWithHash": func() error { _, _, err := e.StatsWithHash(); return closedErr(err) },
		"Replay":        func() error { _, err := e.Replay(c, ReplayTarget{}); return closedErr(err) },
		"ReadPageAt":    func() error { _, _, err := e.ReadPageAt(c, a, lsn); return closedErr(err) },
		"VerifyReplay":  func() error { _, err := e.VerifyReplay(c, false); return closedErr(err) },
		// Counts processes mapping the shared region: ErrClosed after Close.
		"SharedReaders": func() error { _, err := e.SharedReaders(); return closedErr(err) },
		// Descriptions of what the bus was: ordinary Go memory, kept.
		"Stats": func() error {
			st := e.Stats()
			return want(st.Closed && st.Pages == 3 && st.LastLSN == lsn, "Stats after Close lost its final figures")
		},
		"Metrics": func() error {
			m := e.Metrics()
			return want(m.Pages == 3 && m.CommittedLSN == lsn, "Metrics after Close lost its final figures")
		},
		"LastLSN":        func() error { return want(e.LastLSN() == lsn, "LastLSN changed") },
		"Edges":          func() error { return want(len(e.Edges()) == edges, "Edges changed") },
		"Children":       func() error { return want(len(e.Children(a)) == 2, "Children changed") },
		"Parents":        func() error { return want(len(e.Parents(derived)) == 1, "Parents changed") },
		"ParentsRange":   func() error { _, n := e.ParentsRange(derived, 0, 0); return want(n == 1, "ParentsRange lost") },
		"ChildrenRange":  func() error { _, n := e.ChildrenRange(a, 0, 0); return want(n == 2, "ChildrenRange changed") },
		"EdgesAmong":     func() error { return want(len(e.EdgesAmong([]PageID{a, derived})) == 1, "EdgesAmong changed") },
		"Descendants":    func() error { return want(len(e.Descendants(a)) == 2, "Descendants changed") },
		"Binding":        func() error { _, ok := e.Binding(derived); return want(ok, "Binding lost") },
		"BindingFunc":    func() error { fn, ok := e.BindingFunc(derived); return want(ok && fn != "", "BindingFunc lost") },
		"BindingParents": func() error { _, n, _ := e.BindingParents(derived, 0, 0); return want(n == 1, "BindingParents lost") },
		"Bindings":       func() error { return want(len(e.Bindings()) == 1, "Bindings changed") },
		"LastDerivation": func() error { _, ok := e.LastDerivation(derived); return want(ok, "LastDerivation lost") },
		"Pending":        func() error { return want(e.Pending() == 0, "Pending changed") },
		"CheckpointFailures": func() error {
			n, err := e.CheckpointFailures()
			return want(n == 0 && err == nil, "CheckpointFailures changed")
		},
		"ScheduleResync": func() error { e.ScheduleResync(); return nil },
		"CheckpointRunning": func() error {
			return want(!e.CheckpointRunning(), "CheckpointRunning after Close: Close waits for a running checkpoint")
		},
		"Recovery": func() error {
			return want(reflect.DeepEqual(e.Recovery(), recov), "Recovery changed")
		},
		"Dir":           func() error { return want(e.Dir() == "", "Dir changed") },
		"FS":            func() error { return want(e.FS() != nil, "FS lost") },
		"WALDir":        func() error { return want(e.WALDir() != "", "WALDir lost") },
		"CheckpointDir": func() error { return want(e.CheckpointDir() != "", "CheckpointDir lost") },
		"Funcs":         func() error { return want(len(e.Funcs()) > 0, "Funcs lost") },
		"Func":          func() error { _, ok := e.Func("passthrough"); return want(ok, "Func lost") },
		"SharedPath":    func() error { return want(e.SharedPath() == "", "SharedPath of a private bus") },
	}
	typ := reflect.TypeOf(e)
	for i := 0; i < typ.NumMethod(); i++ {
		name := typ.Method(i).Name
		call, ok := table[name]
		if !ok {
			t.Errorf("Bus.%s is not classified: add it to this table (ErrClosed, or a documented answer after Close)", name)
			continue
		}
		if err := call(); err != nil {
			t.Errorf("%s after Close: %v", name, err)
		}
		delete(table, name)
	}
	for name := range table {
		t.Errorf("table lists %s, which is not a method of Bus", name)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
