package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// AsOfLSN returns the LSN whose state a read as of lsn answers: the last
// LSN of the batch (a Commit of several deltas, a propagation wave, a
// CreatePages: one record of the log) that holds lsn, since
// Bus.ReadPageAt and a replay to lsn stop only at a batch's end. It is
// lsn itself when lsn ends its batch, and when the log no longer holds
// lsn (a bus without a log, or a log trimmed by a checkpoint): a state
// read then comes from a checkpoint at lsn, and checkpoints are taken
// between batches. Until 2026-12-07 a Read as of an LSN inside a batch
// answered the batch end's bytes as of the LSN asked
// (TestReadAsOfInsideBatchAnswersItsEnd), and the inspector listed the
// page's writes up to the LSN asked, without the later writes of the
// batch its bytes hold (TestGetPageAsOfInsideBatchListsItsEnd).
//
// The batch's end is the BatchLast of the op QueryLog finds at lsn: the
// root's log reader (segment removal, torn tails and corruption handled
// there, not a second reader here). Call it before the read: a segment a
// checkpoint removes in between leaves the read to that checkpoint (or
// refused).
func AsOfLSN(ctx context.Context, bus *mmsb.Bus, lsn mmsb.LSN) (mmsb.LSN, error) {
	if lsn == 0 {
		return 0, nil
	}
	var end mmsb.LSN
	err := bus.QueryLog(ctx, mmsb.LogQuery{FromLSN: lsn, ToLSN: lsn}, func(op *mmsb.LoggedOp) bool {
		end = op.BatchLast
		return false
	})
	if errors.Is(err, mmsb.ErrLogTruncated) || err == nil && end < lsn {
		return lsn, nil
	}
	if err != nil {
		return 0, fmt.Errorf("as-of read: the batch holding LSN %d: %w", lsn, err)
	}
	return end, nil
}
