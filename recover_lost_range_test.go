package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestRepairReportsLostLSNs: with Options.Repair, Recovery().Log named the
// records and files dropped but not the LSNs the bus lost, what an
// operator must tell users ("commits from LSN a to b are gone"). Now
// LostFirstLSN..LostLastLSN says it: a record damaged after the
// checkpoint loses its LSNs and every later one, to the log's last; a
// damaged length in a record the checkpoint covers cuts the log before
// the checkpoint, loses only what follows the checkpoint, and how far
// that reached is unreadable (LostLSNUnknown). A clean open, with Repair
// or not, reports nothing lost. The next commit takes LostFirstLSN.
func TestRepairReportsLostLSNs(t *testing.T) {
	t.Run("damage after the checkpoint", func(t *testing.T) {
		dir, seg, frames, ckpt, _ := coveredDamageDir(t)
		var victim logFrame
		for _, f := range frames {
			if f.first > uint64(ckpt)+2 && victim.off == 0 {
				victim = f
			}
		}
		end := frames[len(frames)-1]
		flipByte(t, vfs.Default, seg, victim.off+20+victim.length/2) // the checksum fails
		e := openT(t, dir, &Options{CheckpointBytes: -1, Repair: true})
		rep := e.Recovery().Log
		if rep.LostFirstLSN != LSN(victim.first) || rep.LostLastLSN != LSN(end.first+end.count-1) {
			t.Errorf("lost LSNs %d..%d, want %d..%d (report %+v)", rep.LostFirstLSN, rep.LostLastLSN, victim.first, end.first+end.count-1, rep)
		}
		if info := commitT(t, e, w(1, 0, "z")); info.FirstLSN != rep.LostFirstLSN {
			t.Errorf("next commit at LSN %d, want LostFirstLSN %d", info.FirstLSN, rep.LostFirstLSN)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// Opened again, the repaired directory loses nothing more.
		e = openT(t, dir, &Options{CheckpointBytes: -1, Repair: true})
		if rep := e.Recovery().Log; rep.LostFirstLSN != 0 || rep.LostLastLSN != 0 {
			t.Errorf("reopened after Repair: lost LSNs %d..%d, want none", rep.LostFirstLSN, rep.LostLastLSN)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("damaged length before the checkpoint", func(t *testing.T) {
		dir, seg, frames, ckpt, hash := coveredDamageDir(t)
		var victim logFrame
		for _, f := range frames {
			if f.first+f.count-1 < uint64(ckpt) && f.first > 5 {
				victim = f
			}
		}
		flipByte(t, vfs.Default, seg, victim.off) // the next frame is not where it says
		e := openT(t, dir, &Options{CheckpointBytes: -1, Repair: true})
		defer e.Close()
		rep := e.Recovery().Log
		if rep.LostFirstLSN != ckpt+1 || rep.LostLastLSN != LostLSNUnknown {
			t.Errorf("lost LSNs %d..%d, want %d..LostLSNUnknown (report %+v)", rep.LostFirstLSN, rep.LostLastLSN, ckpt+1, rep)
		}
		if hashOf(t, e) == hash {
			t.Errorf("state after the cut is the whole state: the damage lost nothing?")
		}
	})
	t.Run("clean", func(t *testing.T) {
		dir, _, _, _, _ := coveredDamageDir(t)
		for _, repair := range []bool{false, true} {
			e := openT(t, dir, &Options{CheckpointBytes: -1, Repair: repair})
			rep := e.Recovery().Log
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if rep.LostFirstLSN != 0 || rep.LostLastLSN != 0 || rep.DroppedRecords != 0 {
				t.Errorf("clean open (Repair %v): report %+v, want nothing lost", repair, rep)
			}
		}
	})
}
