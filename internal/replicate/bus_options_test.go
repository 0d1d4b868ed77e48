package replicate

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestNewNodeRefusesBusOptionsItCannotRun: bus options with which the node
// can never open a replica are ErrConfig at NewNode. With DisableLog every
// open was refused, and with an in-memory FS the bus never saw the
// checkpoint a bootstrap wrote to Dir (it opened empty, behind the
// stream, and was rebuilt): either way Run logged the failure and tried
// again every LeaseTTL/4, for ever. An FS that wraps the operating
// system's (fault injection) is taken.
func TestNewNodeRefusesBusOptionsItCannotRun(t *testing.T) {
	c := startTestCluster(t, 1)
	for _, tc := range []struct {
		name string
		o    *mmsb.Options
		want string // "" : taken
	}{
		{"DisableLog", &mmsb.Options{DisableLog: true}, "BusOptions.DisableLog"},
		{"in-memory FS", &mmsb.Options{FS: vfs.NewMem()}, "BusOptions.FS does not show"},
		{"wrapped OS FS", &mmsb.Options{FS: errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(errorfs.Op) error { return nil }))}, ""},
		{"nil FS", &mmsb.Options{}, ""},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		dir := filepath.Join(t.TempDir(), "b")
		_, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, Conn: connect(t, c.URL()), FollowOnly: true, BusOptions: tc.o})
		cancel()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: NewNode = %v, want it taken", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: NewNode = %v, want ErrConfig naming %q", tc.name, err, tc.want)
		}
	}
}
