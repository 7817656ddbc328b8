package gokaopts

import (
	"reflect"
	"testing"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// A delete reads as a nil value and an empty value as an empty one, which
// protobuf alone would not tell apart.
func TestEachWriteTellsADeleteFromAnEmptyValue(t *testing.T) {
	ws := []*inventoryv1.KeyWrite{
		{Key: []byte("a"), Value: []byte{1}},
		{Key: []byte("b"), Delete: true},
		{Key: []byte("c")},
	}
	type kv struct {
		key   string
		value []byte
	}
	var got []kv
	EachWrite(ws, func(key string, value []byte) { got = append(got, kv{key, value}) })
	want := []kv{{"a", []byte{1}}, {"b", nil}, {"c", []byte{}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EachWrite gave %#v, want %#v", got, want)
	}
}
