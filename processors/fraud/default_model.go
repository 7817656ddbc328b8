package fraud

import _ "embed"

// DefaultModelJSON is the default scoring model (model.json beside this
// file), built into the titan binary so an instance scores orders with no
// file to install. Operators who tune the model point titan run at their
// own copy with --fraud-model and reload it with SIGHUP.
//
//go:embed model.json
var DefaultModelJSON []byte
