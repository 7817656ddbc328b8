package state

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// mkdirAllDurable creates dir and any missing parents, then syncs the parent
// of each directory it created. Without that, a machine crash can drop the
// new directory entries, and with them a database whose own files were all
// synced: Pebble syncs the directory it is opened in, not the ones above.
func mkdirAllDurable(fs vfs.FS, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Sync from the top down, so each entry is durable once its parent is.
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(fs, filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	f, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
