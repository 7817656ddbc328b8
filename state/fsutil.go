package state

import (
	"errors"
	"os"
	"path/filepath"
	"slices"

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

// cleanMarker is the file Close leaves in a partition's directory once
// Pebble has closed, and Open consumes. Pebble ignores files it does not
// recognise; the name stays clear of its own ("LOCK", "marker.*", ...).
const cleanMarker = "CLEAN_SHUTDOWN"

// lockFile is Pebble's directory lock, which a wipe must leave in place.
const lockFile = "LOCK"

// writeMarker creates dir's clean-shutdown marker and makes it durable: an
// entry lost in a machine crash would only cost a needless recovery, but an
// fsync per Close is cheap next to that.
func writeMarker(fs vfs.FS, dir string) error {
	f, err := fs.Create(fs.PathJoin(dir, cleanMarker), vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return syncDir(fs, dir)
}

// removeMarker deletes dir's clean-shutdown marker durably: if a machine
// crash brought it back, the next Open would trust writes made after it.
func removeMarker(fs vfs.FS, dir string) error {
	if err := fs.Remove(fs.PathJoin(dir, cleanMarker)); err != nil {
		return err
	}
	return syncDir(fs, dir)
}

func hasMarker(fs vfs.FS, dir string) (bool, error) {
	_, err := fs.Stat(fs.PathJoin(dir, cleanMarker))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// dbFiles lists what dir holds besides the directory lock, which the caller
// has just taken and which proves nothing about a database being there.
func dbFiles(fs vfs.FS, dir string) ([]string, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == lockFile }), nil
}

// wipe removes names from dir, durably, so that no file of the old database
// can reappear after a crash next to the new one's. The caller holds the
// directory lock, which stays.
func wipe(fs vfs.FS, dir string, names []string) error {
	for _, n := range names {
		if err := fs.RemoveAll(fs.PathJoin(dir, n)); err != nil {
			return err
		}
	}
	return syncDir(fs, dir)
}
