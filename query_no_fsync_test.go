package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestQueryLogDoesNotFsync: QueryLog hands the log's records to its files
// without an fsync. It called Flush, so under SyncNone every watch on a
// server (one QueryLog per poll) made the bus fsync: 47 fsyncs in 200
// commits in the server review of 2026-12-06. Each query still sees every
// operation committed before it, in every sync mode (under SyncGroup,
// CommitAsync leaves the record in the log's buffer for the query to write
// out; its group flusher may fsync meanwhile, so only visibility is checked
// there).
func TestQueryLogDoesNotFsync(t *testing.T) {
	for _, mode := range []SyncMode{SyncNone, SyncGroup, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{Sync: mode, CheckpointBytes: -1})
			mustCreate(t, e, 4, 16)
			for i := 1; i <= 50; i++ {
				info, err := e.CommitAsync(ctx, []delta.Delta{w(PageID(1+i%4), i%8, "q")})
				if err != nil {
					t.Fatal(err)
				}
				before := e.Stats().Log.Syncs
				var last LSN
				if err := e.QueryLog(ctx, LogQuery{FromLSN: info.LastLSN}, func(op *LoggedOp) bool {
					last = op.LSN
					return true
				}); err != nil {
					t.Fatal(err)
				}
				if last != info.LastLSN {
					t.Fatalf("commit %d: the query saw up to LSN %d, want its LSN %d", i, last, info.LastLSN)
				}
				if after := e.Stats().Log.Syncs; mode != SyncGroup && after != before {
					t.Fatalf("commit %d: QueryLog issued %d fsyncs, want 0", i, after-before)
				}
			}
		})
	}
}
