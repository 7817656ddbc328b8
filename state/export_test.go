package state

// WithFS lets the crash tests run storages on Pebble's crashable in-memory
// filesystem.
var WithFS = withFS
