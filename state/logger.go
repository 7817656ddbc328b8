package state

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleLogger routes Pebble's printf-style messages into slog, tagged with
// the partition they came from.
type pebbleLogger struct {
	l *slog.Logger
}

var _ pebble.Logger = pebbleLogger{}

// Infof logs at debug level: Pebble reports every flush, compaction and WAL
// replay at "info", which is noise at the level a service runs.
func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...), "source", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf records the message and then hands over to Pebble's default logger,
// which ends the process. Pebble calls Fatalf only when it cannot go on
// safely and does not expect it to return; ending the process is Pebble's
// decision, the same it takes when no logger is configured.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "source", "pebble", "fatal", true)
	pebble.DefaultLogger.Fatalf(format, args...)
}
