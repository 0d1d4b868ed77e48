package mmsb

import "fmt"

// makeDirs creates the checkpoint and log directories and makes their
// entries durable by syncing the data directory. Without that sync a power
// failure can lose a new directory with every file in it, however well those
// files were synced. It syncs even when both already exist: a process that
// crashed between creating one and syncing leaves it present but not
// durable, and everything later committed into it would share its fate.
func (e *Bus) makeDirs() error {
	dirs := []string{e.ckptDir()}
	if !e.opts.DisableLog {
		dirs = append(dirs, e.walDir())
	}
	for _, d := range dirs {
		if err := e.fs.MkdirAll(d); err != nil {
			return fmt.Errorf("mmsb: create %s: %w", d, err)
		}
	}
	if err := e.fs.SyncDir(e.dir); err != nil {
		return fmt.Errorf("mmsb: sync %s: %w", e.dir, err)
	}
	return nil
}
