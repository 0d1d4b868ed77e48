package server

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
)

// Each bus error reaches a client as the code it can act on; wrapped, as
// the bus returns them. ErrNoSpace was Internal (a server defect, to a
// client) before it had a row.
func TestCodeForBusErrors(t *testing.T) {
	cases := []struct {
		err  error
		want connect.Code
	}{
		{fmt.Errorf("%w: a batch of 3 creates: %w", mmsb.ErrNoSpace, syscall.ENOSPC), connect.CodeResourceExhausted},
		{fmt.Errorf("%w: intake full", mmsb.ErrBusy), connect.CodeResourceExhausted},
		{fmt.Errorf("%w: page 7", mmsb.ErrPageNotFound), connect.CodeNotFound},
		{fmt.Errorf("%w: page 7", mmsb.ErrPageExists), connect.CodeAlreadyExists},
		{fmt.Errorf("%w: record", mmsb.ErrRecordTooLarge), connect.CodeInvalidArgument},
		{fmt.Errorf("%w: log", mmsb.ErrCorruption), connect.CodeDataLoss},
		{mmsb.ErrClosed, connect.CodeUnavailable},
		{context.Canceled, connect.CodeCanceled},
		{syscall.EIO, connect.CodeInternal}, // control: wraps no sentinel
	}
	for _, c := range cases {
		if got := codeFor(c.err); got != c.want {
			t.Errorf("codeFor(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
