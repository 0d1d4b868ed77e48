package page

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// BenchmarkLookup measures Lookup over 1M pages created in ID order: the
// in-order prefix (no memory access), and the dense index after page 1 is
// freed (which empties the prefix).
func BenchmarkLookup(b *testing.B) {
	for _, c := range []struct {
		name  string
		free1 bool
	}{{"prefix", false}, {"index", true}} {
		b.Run(c.name, func(b *testing.B) {
			s := New()
			defer s.Close()
			const n = 1 << 20
			createInOrder(b, s, n, 64)
			if c.free1 {
				if err := s.Free(1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var sum Slot
			id := base.PageID(2)
			for range b.N {
				sl, _ := s.Lookup(id)
				sum += sl
				id = (id+7919)&(n-1) + 1
			}
			if sum == -1 {
				b.Log(sum)
			}
		})
	}
}

// BenchmarkLookupSparse measures the map fallback for huge IDs.
func BenchmarkLookupSparse(b *testing.B) {
	s := New()
	defer s.Close()
	const n = 1 << 16
	for i := range n {
		if _, err := s.Create(base.PageID(i+1)<<40, 64, base.LocationCPU); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sum Slot
	for i := range b.N {
		sl, _ := s.Lookup(base.PageID(i&(n-1)+1) << 40)
		sum += sl
	}
	if sum == -1 {
		b.Log(sum)
	}
}

// BenchmarkBytes measures slot -> page bytes.
func BenchmarkBytes(b *testing.B) {
	s := New()
	defer s.Close()
	const n = 1 << 16
	createInOrder(b, s, n, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := range b.N {
		total += len(s.Bytes(Slot(i & (n - 1))))
	}
	if total == -1 {
		b.Log(total)
	}
}

// BenchmarkCreate1M creates 1M 1 KiB pages into a fresh store per
// iteration (the store's Close is excluded from the timing). The ns/page
// metric is the per-Create cost.
func BenchmarkCreate1M(b *testing.B) {
	const n = 1_000_000
	b.ReportAllocs()
	for range b.N {
		s := New()
		createInOrder(b, s, n, 1024)
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/page")
}

// BenchmarkCreateFree measures steady-state create+free of 1 KiB pages
// (cell and slot reuse, including zeroing the reused cell).
func BenchmarkCreateFree(b *testing.B) {
	s := New()
	defer s.Close()
	const live = 1 << 14
	createInOrder(b, s, live, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		old := base.PageID(i + 1)
		if err := s.Free(old); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Create(old+live, 1024, base.LocationCPU); err != nil {
			b.Fatal(err)
		}
	}
}

// createInOrder creates pages 1..n of size bytes in s.
func createInOrder(b *testing.B, s *Store, n, size int) {
	b.Helper()
	for i := range n {
		if _, err := s.Create(base.PageID(i+1), size, base.LocationCPU); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendIDs lists the IDs of 1M pages, as a checkpoint's snapshot
// does under the bus lock, into a buffer with room for them.
func BenchmarkAppendIDs(b *testing.B) {
	s := New()
	defer s.Close()
	const n = 1 << 20
	createInOrder(b, s, n, 64)
	dst := make([]base.PageID, 0, n)
	b.ResetTimer()
	for range b.N {
		dst = s.AppendIDs(dst[:0])
	}
	if len(dst) != n {
		b.Fatalf("%d IDs, want %d", len(dst), n)
	}
}
