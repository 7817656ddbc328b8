package state

// WithFS lets the crash tests run storages on Pebble's crashable in-memory
// filesystem.
var WithFS = withFS

// SetBulkChunk sets how many bytes a bulk load holds before it ingests
// them, so that tests make several sstables from few records.
func SetBulkChunk(t interface{ Cleanup(func()) }, n int) {
	old := bulkChunk
	bulkChunk = n
	t.Cleanup(func() { bulkChunk = old })
}

// The defaults a test scales down, keeping their ratio.
const (
	DefaultCacheSize    = defaultCacheSize
	DefaultMemTableSize = defaultMemTableSize
)

// Flush writes the storage's memtable to an sstable.
func Flush(s *Storage) error {
	db, release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	return db.Flush()
}
