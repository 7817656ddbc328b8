// Package fraud ships the default fraud-scoring model (model.json beside
// this file) inside the titan binary, so an instance scores orders with no
// file to install. Operators who tune the model point titan run at their
// own copy with --fraud-model and reload it with SIGHUP.
package fraud

import _ "embed"

// Model is the content of model.json.
//
//go:embed model.json
var Model []byte
