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
