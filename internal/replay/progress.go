package replay

import (
	"fmt"
	"strings"
	"time"
)

// Progress is how far one phase of a replay has come.
type Progress struct {
	// Phase names what is counted: "copy" (records copied into the shadow
	// inputs) or "process" (records the shadow processor has committed).
	Phase string
	// Done of Total records, after Elapsed since the phase began.
	Done, Total int64
	Elapsed     time.Duration
}

// Rate is the records per second so far; 0 before any time has passed.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA is the time left at the rate so far; false while nothing is done
// yet, when there is no rate to go by.
func (p Progress) ETA() (time.Duration, bool) {
	r := p.Rate()
	if r <= 0 {
		return 0, p.Done >= p.Total
	}
	left := max(p.Total-p.Done, 0)
	return time.Duration(float64(left) / r * float64(time.Second)).Round(time.Second), true
}

func (p Progress) percent() int64 {
	if p.Total <= 0 {
		return 100
	}
	return min(p.Done*100/p.Total, 100)
}

func (p Progress) tail() string {
	eta := "?"
	if d, ok := p.ETA(); ok {
		eta = d.String()
	}
	return fmt.Sprintf("%.0f rec/s, ETA %s", p.Rate(), eta)
}

// Line is the plain form, one line per report: for logs and pipes.
func (p Progress) Line() string {
	return fmt.Sprintf("replay %s: %d/%d records (%d%%), %s", p.Phase, p.Done, p.Total, p.percent(), p.tail())
}

// Bar is the terminal form, width characters of bar between brackets,
// redrawn in place (the caller writes "\r" before it).
func (p Progress) Bar(width int) string {
	width = max(width, 1)
	filled := int(p.percent() * int64(width) / 100)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("%-7s [%s] %3d%% %d/%d, %s", p.Phase, bar, p.percent(), p.Done, p.Total, p.tail())
}
