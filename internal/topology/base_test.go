package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/schemas"
)

func TestBaseCheck(t *testing.T) {
	goka := gokaopts.Config{Brokers: []string{"127.0.0.1:1"}, Replication: 1, Storage: storage.MemoryBuilder()}
	b := topology.Base{Goka: goka, Partitions: 8}
	if err := b.Check("inventory"); err != nil {
		t.Fatal(err)
	}
	if b.TimeWindow != schemas.DefaultTimeWindow() || b.Logger == nil {
		t.Errorf("defaults not filled in: %+v", b)
	}
	d := b.Decorator(nil)
	if d.Partitions != 8 || d.Logger != b.Logger {
		t.Errorf("decorator %+v does not carry the base's partitions and logger", d)
	}
	for _, tc := range []struct {
		name string
		base topology.Base
		want string
	}{
		{"no partitions", topology.Base{Goka: goka}, "orders: 0 partitions"},
		{"no brokers", topology.Base{Goka: gokaopts.Config{Replication: 1, Storage: storage.MemoryBuilder()}, Partitions: 1}, ""},
		{"a window that looks back less than zero", topology.Base{Goka: goka, Partitions: 1,
			TimeWindow: schemas.TimeWindow{Ahead: time.Minute, Behind: -time.Minute}}, ""},
	} {
		err := tc.base.Check("orders")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
