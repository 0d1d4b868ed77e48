package replicate

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestFitMaxPayload: MaxRecordBytes is fitted to the server's
// max_payload, less payloadHeadroom for the headers: the default is
// lowered, an explicit value that does not fit is ErrConfig.
func TestFitMaxPayload(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name       string
		max        int // MaxRecordBytes after withDefaults
		explicit   bool
		maxPayload int64
		want       int // 0: ErrConfig
	}{
		{"default, server of the default 1 MiB", DefaultMaxRecordBytes, false, mib, mib - payloadHeadroom},
		{"default, embedded server", DefaultMaxRecordBytes, false, DefaultMaxRecordBytes + payloadHeadroom, DefaultMaxRecordBytes},
		{"default, larger server", DefaultMaxRecordBytes, false, 64 * mib, DefaultMaxRecordBytes},
		{"default, max_payload unknown", DefaultMaxRecordBytes, false, 0, DefaultMaxRecordBytes},
		{"default, server smaller than the headroom", DefaultMaxRecordBytes, false, payloadHeadroom, 0},
		{"explicit, fits", 512 << 10, true, mib, 512 << 10},
		{"explicit, does not fit", 2 * mib, true, mib, 0},
		{"explicit, fits exactly", mib - payloadHeadroom, true, mib, mib - payloadHeadroom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fitMaxPayload(Config{Bus: "b", MaxRecordBytes: tc.max}, tc.explicit, tc.maxPayload)
			if tc.want == 0 {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("fitMaxPayload = %d, %v; want ErrConfig", got.MaxRecordBytes, err)
				}
				return
			}
			if err != nil || got.MaxRecordBytes != tc.want {
				t.Fatalf("fitMaxPayload = %d, %v; want %d", got.MaxRecordBytes, err, tc.want)
			}
		})
	}
}

// TestLeaderRefusesRecordOverServerPayload: on a server whose max_payload
// (1 MiB, nats-server's default) is below the default MaxRecordBytes, a
// commit whose record the server would refuse is refused before it is
// logged with mmsb.ErrRecordTooLarge, and the leader goes on leading.
// Before, the record was logged, its publish refused ("nats: maximum
// payload exceeded"): the bus failed, the leader stepped down and set its
// directory aside as diverged.
func TestLeaderRefusesRecordOverServerPayload(t *testing.T) {
	s, err := StartServer(ServerConfig{Name: "small-payload", StoreDir: t.TempDir(), MaxPayload: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc := connect(t, s.ClientURL())
	a := startNode(t, nil, NodeConfig{Config: testConfig(1), Conn: nc, ID: "a"})
	_, bus := waitLeader(t, a)
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 4 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, make([]byte, 2<<20))})
	if !errors.Is(err, mmsb.ErrRecordTooLarge) {
		t.Fatalf("commit of a 2 MiB record on a server of 1 MiB messages: %v, want mmsb.ErrRecordTooLarge", err)
	}
	// The bus did not fail: a commit that fits is published.
	ci, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{1})})
	if err != nil {
		t.Fatalf("a small commit after the refused one: %v", err)
	}
	if term, ended := a.LastLead(); ended != nil || a.Leader() != bus {
		t.Fatalf("the leader of term %d stepped down: %v", term, ended)
	}
	if got := bus.LastLSN(); got != ci.LastLSN {
		t.Fatalf("bus at LSN %d, want %d", got, ci.LastLSN)
	}
}

// TestNodeKeepsLargerStreamMessageLimit: a node whose MaxRecordBytes is
// smaller than the leader's (here a read replica started after it) keeps
// the stream's larger message limit, and the leader's records up to its
// own MaxRecordBytes are stored. Before, every node set the stream's
// MaxMsgSize to its own limit when it started: the read replica lowered
// it to 1 MiB, and the leader's 2 MiB record was refused ("message size
// exceeds maximum allowed"): its bus failed and it stepped down.
func TestNodeKeepsLargerStreamMessageLimit(t *testing.T) {
	c := startTestCluster(t, 1)
	leaderCfg := testConfig(1)
	leaderCfg.MaxRecordBytes = 4 << 20
	a := startNode(t, c, NodeConfig{Config: leaderCfg, ID: "a"})
	_, bus := waitLeader(t, a)
	replicaCfg := testConfig(1)
	replicaCfg.MaxRecordBytes = 1 << 20
	b := startNode(t, c, NodeConfig{Config: replicaCfg, ID: "b", FollowOnly: true})
	info, err := b.res.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Config.MaxMsgSize, int32(leaderCfg.MaxRecordBytes); got < want {
		t.Fatalf("after the read replica started the stream's MaxMsgSize is %d, below the leader's MaxRecordBytes %d", got, want)
	}
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 4 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, make([]byte, 2<<20))})
	if err != nil {
		t.Fatalf("commit of a 2 MiB record, within the leader's 4 MiB: %v", err)
	}
	waitApplied(t, b, ci.LastLSN)
}
