package tlog

import (
	"context"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

func reportRates(b *testing.B, records int, bytesPerRecord int) {
	b.SetBytes(int64(bytesPerRecord))
	sec := b.Elapsed().Seconds()
	if sec > 0 {
		b.ReportMetric(float64(records)/sec, "records/s")
	}
}

// BenchmarkAppendGroup commits ~30 KB records (about 1000 16-byte deltas
// each) from several goroutines under SyncGroup, the bus's default path.
func BenchmarkAppendGroup(b *testing.B) {
	const size = 30 << 10
	l := openLog(b, Options{FS: vfs.Default, Dir: b.TempDir()})
	defer l.Close()
	payload := payloadFor(1, size)
	var mu sync.Mutex
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			tk, err := l.Append(l.LastLSN()+1, 1000, payload)
			mu.Unlock()
			if err == nil {
				err = l.Wait(context.Background(), tk)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportRates(b, b.N, size+FrameHeaderSize)
	st := l.Stats()
	b.ReportMetric(float64(b.N)/float64(max(st.Syncs, 1)), "records/fsync")
}

// BenchmarkAppendNone appends small records with SyncNone: one write call
// per record, no fsync.
func BenchmarkAppendNone(b *testing.B) {
	benchSerial(b, SyncNone, 128)
}

// BenchmarkAppendAlways appends small records with SyncAlways: one fsync
// per record, the worst case.
func BenchmarkAppendAlways(b *testing.B) {
	benchSerial(b, SyncAlways, 128)
}

func benchSerial(b *testing.B, mode SyncMode, size int) {
	l := openLog(b, Options{FS: vfs.Default, Dir: b.TempDir(), Sync: mode})
	defer l.Close()
	payload := payloadFor(1, size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(base.LSN(i+1), 1, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRates(b, b.N, size+FrameHeaderSize)
}

// BenchmarkRead streams a 64 MiB log of 30 KB records with a Reader.
func BenchmarkRead(b *testing.B) {
	const size, n = 30 << 10, 2048
	dir := b.TempDir()
	l := openLog(b, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 16 << 20, Sync: SyncNone})
	payload := payloadFor(1, size)
	for i := 0; i < n; i++ {
		if _, err := l.Append(base.LSN(i+1), 1, payload); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	b.ReportAllocs()
	b.SetBytes(int64(n * (size + FrameHeaderSize)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := NewReader(vfs.Default, dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
		r.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
