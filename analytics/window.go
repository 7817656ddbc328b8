package analytics

import (
	"errors"
	"fmt"
	"time"
)

// The bounds of a Window.
const (
	// MaxSpan is the longest window.
	MaxSpan = 7 * 24 * time.Hour
	// MaxMinutes is MaxSpan in minutes, the most LastMinutes takes.
	MaxMinutes = int(MaxSpan / time.Minute)
	// MaxAhead is how far past now a window may reach.
	MaxAhead = 24 * time.Hour
)

// earliest is the first time a window may start: nothing Titan records is older.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrWindow is what every *WindowError wraps.
var ErrWindow = errors.New("analytics: invalid window")

// WindowError says which bound of a window is wrong, "from", "to" or "minutes", and why.
type WindowError struct {
	Field  string
	Reason string
}

func (e *WindowError) Error() string {
	return fmt.Sprintf("analytics: invalid window: %s %s", e.Field, e.Reason)
}

func (e *WindowError) Unwrap() error { return ErrWindow }

// Window is the time range a view covers, [From, To), in whole seconds (ClickHouse's DateTime).
// The zero Window is invalid; NewWindow and LastMinutes make valid ones.
type Window struct {
	from, to time.Time
}

// NewWindow checks a window against now: to after from (once both are cut to the second), a span
// of at most MaxSpan, from not before 2000, and to at most MaxAhead past now.
func NewWindow(from, to, now time.Time) (Window, error) {
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	switch {
	case from.Before(earliest):
		return Window{}, &WindowError{"from", "is before 2000"}
	case from.After(now.Add(MaxAhead)):
		return Window{}, &WindowError{"from", "is more than a day in the future"}
	case !to.After(from):
		return Window{}, &WindowError{"to", "is not after from"}
	case to.After(now.Add(MaxAhead)):
		return Window{}, &WindowError{"to", "is more than a day in the future"}
	case to.Sub(from) > MaxSpan:
		return Window{}, &WindowError{"from", "is more than 7 days before to"}
	}
	return Window{from: from, to: to}, nil
}

// LastMinutes is the window of the minutes minutes up to now, 1 to MaxMinutes.
func LastMinutes(minutes int, now time.Time) (Window, error) {
	if minutes < 1 || minutes > MaxMinutes {
		return Window{}, &WindowError{"minutes", fmt.Sprintf("is not from 1 to %d", MaxMinutes)}
	}
	now = now.UTC().Truncate(time.Second)
	return NewWindow(now.Add(-time.Duration(minutes)*time.Minute), now, now)
}

// From is the window's first second.
func (w Window) From() time.Time { return w.from }

// To is the second after the window's last.
func (w Window) To() time.Time { return w.to }

// IsZero reports whether w was made by neither NewWindow nor LastMinutes.
func (w Window) IsZero() bool { return w.from.IsZero() }
