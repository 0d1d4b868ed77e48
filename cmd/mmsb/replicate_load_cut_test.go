package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCommitCutByRunEnd: a load's commit that met the closed bus after
// the run ended (interrupt or --duration) is the run's end, not a failed
// load; the closed bus while the run goes on, and any other error, stay
// failures. CI once saw an interrupted 'replicate --load' exit 1 with
// "load failed after 13 commits: mmsb: bus closed": the node closed the
// bus before the cancellation reached the role's context.
func TestCommitCutByRunEnd(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	running := context.Background()
	closed := fmt.Errorf("commit: %w", mmsb.ErrClosed)
	other := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"closed after the run ended", ended, closed, nil},
		{"no error", ended, nil, nil},
		{"closed while the run goes on", running, closed, closed},
		{"another error after the run ended", ended, other, other},
	} {
		if got := commitCutByRunEnd(tc.ctx, tc.err); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
