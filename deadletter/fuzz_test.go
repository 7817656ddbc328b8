package deadletter_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/titan-commerce/titan/deadletter"
)

// FuzzDecode: no input makes Decode panic; what it accepts passes Check,
// and encodes to bytes that decode to the same dead letter.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `{}`, `{"topic":"t","reason":"r","belongs_to":null}`, `{"topic":"t","reason":"r"}{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := deadletter.Decode(b)
		if err != nil {
			if !reflect.DeepEqual(d, deadletter.DeadLetter{}) {
				t.Fatalf("an error with a value: %+v", d)
			}
			return
		}
		if err := d.Check(); err != nil {
			t.Fatalf("decoded %+v fails Check: %v", d, err)
		}
		enc, err := d.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", d, err)
		}
		again, err := deadletter.Decode(enc)
		if err != nil {
			t.Fatalf("%s does not decode again: %v", enc, err)
		}
		enc2, _ := again.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encodings differ:\n%s\n%s", enc, enc2)
		}
	})
}
