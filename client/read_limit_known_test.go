package client

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

// TestReadLimitErrorKnownLimit: a client made without connect options
// reads at most DefaultReadMaxBytes, and its read-limit error quotes that
// number; one with connect options (which may set another limit, and
// cannot be read back) quotes none of its own. An answer past 128 MiB
// is too large to send here: the error connect gives is made up.
func TestReadLimitErrorKnownLimit(t *testing.T) {
	over := connect.NewError(connect.CodeResourceExhausted, errors.New("message size 134217729 is larger than configured max 134217728"))
	def := strconv.Itoa(DefaultReadMaxBytes)
	plain, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if msg := plain.readLimitError("Read", over).Error(); !strings.Contains(msg, "client: Read: the answer is larger than this client reads ("+def+" bytes, DefaultReadMaxBytes") {
		t.Errorf("without connect options: %q, want the limit %s quoted", msg, def)
	}
	opts, err := New("http://127.0.0.1:1", WithConnectOptions(connect.WithReadMaxBytes(1<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Close()
	msg := opts.readLimitError("Read", connect.NewError(connect.CodeResourceExhausted, errors.New("message size 2000 is larger than configured max 1024")))
	if s := msg.Error(); strings.Contains(s, def) || !strings.Contains(s, "client: Read: the answer is larger") {
		t.Errorf("with connect options: %q, want the call named and no number of its own", s)
	}
	if other := errors.New("other"); plain.readLimitError("Read", other) != other { //nolint:errorlint // the very error, not one wrapping it
		t.Error("an error that is no read-limit one is not returned as it is")
	}
}
