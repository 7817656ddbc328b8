package fraudtopo

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/titan-commerce/titan/processors/fraud"
)

// ModelFile holds the model read from a file and swaps in a new one when
// asked to reload, so weights and rules change without a restart. Each
// decision names the model version it was made with.
type ModelFile struct {
	path    string
	current atomic.Pointer[fraud.Model]
}

// LoadModelFile reads and checks the model at path.
func LoadModelFile(path string) (*ModelFile, error) {
	f := &ModelFile{path: path}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// StaticModel serves one model forever, for tests and tools.
func StaticModel(m *fraud.Model) *ModelFile {
	f := &ModelFile{}
	f.current.Store(m)
	return f
}

// Reload reads the file again. A file that does not parse leaves the
// current model in place: a typo in an edit must not stop scoring.
func (f *ModelFile) Reload() error {
	if f.path == "" {
		return nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("fraud: read model: %w", err)
	}
	m, err := fraud.ParseModel(b)
	if err != nil {
		return fmt.Errorf("fraud: model %s: %w", f.path, err)
	}
	f.current.Store(m)
	return nil
}

// Model is the model in force.
func (f *ModelFile) Model() *fraud.Model { return f.current.Load() }
