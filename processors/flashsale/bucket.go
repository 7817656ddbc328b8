package flashsale

import (
	"slices"
	"time"

	"github.com/titan-commerce/titan/schemas"
)

// Bounds on what one key keeps.
const (
	// MaxBuckets caps the buckets of a sale.
	MaxBuckets = schemas.MaxSaleBuckets
	// MaxParked caps the takes a dry bucket holds while it borrows; past
	// it, an attempt is rejected as sold out rather than grow the state,
	// which is rewritten with every message to the bucket.
	MaxParked = 64
	// RecheckAfter is how long, in attempt time, a bucket whose last round
	// found every other bucket empty answers sold out at once before it
	// borrows again. After a sale sells out this keeps each attempt at one
	// message instead of a round of Buckets-1 hops; units still moving
	// between buckets are found by the first round after it.
	RecheckAfter = time.Second
	// MaxResults caps the results a user key remembers. A retry of an
	// older attempt is a new attempt, still held to the limit.
	MaxResults = 64
)

// BucketState is the state of a bucket key.
type BucketState struct {
	Sale      Sale
	Bucket    int
	Opened    bool
	Available int64
	Sold      int64
	// Received and Given count the units moved in and out by borrowing:
	// Share + Received - Given = Available + Sold.
	Received, Given int64
	// Parked are takes waiting for borrowed units, oldest first.
	Parked []Message
	// Borrowing is set while a round is on: Round numbers it, Donor is
	// the bucket asked last, Misses counts donors in a row that gave none.
	Borrowing bool
	Round     int64
	Donor     int
	Misses    int
	// Closed is set once the sale has ended here: nothing sells after.
	Closed bool
	// ExhaustedAt is the attempt time of the last round that found every
	// other bucket empty; zero once units arrive.
	ExhaustedAt time.Time
	Seen        Seen
}

// DecideBucket applies a message to a bucket key.
func DecideBucket(s BucketState, m Message, r Router) (BucketState, Output) {
	s.Parked = slices.Clone(s.Parked)
	if !fresh(&s.Seen, m) {
		return s, Output{}
	}
	var out Output
	switch m.Kind {
	case KindOpen:
		if !s.Opened && m.Sale.Valid() && m.Bucket >= 0 && m.Bucket < m.Sale.Buckets {
			s.Sale, s.Bucket, s.Opened, s.Available = m.Sale, m.Bucket, true, m.Units
		}
	case KindTake:
		s.take(m, r, &out)
	case KindClose:
		s.close(m, r, &out)
	case KindBorrow:
		give := int64(0)
		if s.Opened && !s.Closed && s.Available > 0 {
			give = min(s.Available, max(m.Units, (s.Available+1)/2))
			s.Available -= give
			s.Given += give
		}
		out.Messages = append(out.Messages, Message{
			Kind: KindGrant, SaleID: m.SaleID, Key: r.Bucket(m.SaleID, m.From), Time: m.Time,
			From: s.Bucket, Units: give, Round: m.Round,
		})
	case KindGrant:
		s.Available += m.Units
		s.Received += m.Units
		if m.Units > 0 {
			s.ExhaustedAt = time.Time{}
		}
		if s.Closed {
			break
		}
		s.serveParked(r, &out)
		if s.Borrowing && m.Round == s.Round {
			s.continueRound(m, r, &out)
		}
	}
	return s, out
}

func (s *BucketState) take(m Message, r Router, out *Output) {
	reason := ""
	switch {
	case !s.Opened || m.Time.Before(s.Sale.Start):
		reason = ReasonNotStarted
	case s.Closed || !m.Time.Before(s.Sale.End):
		reason = ReasonEnded
	case m.Qty <= 0:
		reason = ReasonInvalid
	case m.Already+m.Qty > s.Sale.PerUserLimit:
		reason = ReasonLimitExceeded
	case s.Available >= m.Qty:
		s.Available -= m.Qty
		s.Sold += m.Qty
	case s.Sale.Buckets == 1 || len(s.Parked) >= MaxParked || s.exhausted(m.Time):
		reason = ReasonSoldOut
	default:
		s.Parked = append(s.Parked, m)
		if !s.Borrowing {
			s.startRound(r, out)
		}
		return
	}
	out.Messages = append(out.Messages, s.reply(m, r, reason))
}

// Admit names the reason a sale's buckets would surely reject a purchase of
// qty at t by a buyer who has bought at least purchased, in a sale of which
// at least sold units are sold, or returns "" if they might accept it. The
// checks are take's, in take's order: the API answers with Admit's reason
// without sending an attempt that could only be rejected (a sold-out sale
// under a spike). It is sound with lower bounds, read from views that lag,
// because what a buyer has bought and what a sale has sold only grow; and
// the sale's units less what it sold bound what any bucket holds, however
// they lend to each other.
func Admit(sale Sale, purchased, sold, qty int64, t time.Time) string {
	switch {
	case t.Before(sale.Start):
		return ReasonNotStarted
	case !t.Before(sale.End):
		return ReasonEnded
	case qty <= 0:
		return ReasonInvalid
	case purchased+qty > sale.PerUserLimit:
		return ReasonLimitExceeded
	case sale.Units-sold < qty:
		return ReasonSoldOut
	}
	return ""
}

// close ends the bucket's sale once the end has passed and reports what it
// sold to the sale key; a repeated Close repeats the report.
func (s *BucketState) close(m Message, r Router, out *Output) {
	if !s.Opened || m.Time.Before(s.Sale.End) {
		return
	}
	if !s.Closed {
		s.Closed = true
		for _, t := range s.Parked {
			out.Messages = append(out.Messages, s.reply(t, r, ReasonEnded))
		}
		s.Parked = nil
		s.Borrowing = false
	}
	out.Messages = append(out.Messages, Message{
		Kind: KindReport, SaleID: s.Sale.ID, Key: r.Sale(s.Sale.ID), Time: m.Time, Bucket: s.Bucket, Qty: s.Sold,
	})
}

func (s *BucketState) reply(take Message, r Router, reason string) Message {
	return Message{
		Kind: KindTakeResult, SaleID: take.SaleID, Key: r.User(take.SaleID, take.UserID), Time: take.Time,
		IdempotencyKey: take.IdempotencyKey, UserID: take.UserID, Qty: take.Qty, Bucket: s.Bucket,
		Reason: reason, Sale: s.Sale,
	}
}

// serveParked sells to parked takes, oldest first, as far as units go.
func (s *BucketState) serveParked(r Router, out *Output) {
	kept := s.Parked[:0]
	for _, t := range s.Parked {
		if s.Available >= t.Qty {
			s.Available -= t.Qty
			s.Sold += t.Qty
			out.Messages = append(out.Messages, s.reply(t, r, ""))
			continue
		}
		kept = append(kept, t)
	}
	s.Parked = kept
}

func (s *BucketState) startRound(r Router, out *Output) {
	s.Round++
	s.Borrowing = true
	s.Misses = 0
	s.Donor = s.next(s.Bucket)
	s.borrow(r, out)
}

// continueRound decides what a grant of the current round means: keep
// asking a donor that gave, move on from one that did not, and give up
// once every other bucket in a row gave nothing.
func (s *BucketState) continueRound(grant Message, r Router, out *Output) {
	if len(s.Parked) == 0 {
		s.Borrowing = false
		return
	}
	if grant.Units > 0 {
		s.Misses = 0
	} else {
		s.Misses++
		s.Donor = s.next(grant.From)
	}
	if s.Misses >= s.Sale.Buckets-1 {
		s.ExhaustedAt = grant.Time
		for _, t := range s.Parked {
			out.Messages = append(out.Messages, s.reply(t, r, ReasonSoldOut))
		}
		s.Parked = nil
		s.Borrowing = false
		return
	}
	s.borrow(r, out)
}

// borrow asks the current donor for what the parked takes want. The
// request carries the newest parked attempt's time, and the grant brings
// it back, so a failed round is dated in attempt time.
func (s *BucketState) borrow(r Router, out *Output) {
	var want int64
	for _, t := range s.Parked {
		want += t.Qty
	}
	out.Messages = append(out.Messages, Message{
		Kind: KindBorrow, SaleID: s.Sale.ID, Key: r.Bucket(s.Sale.ID, s.Donor), Time: s.Parked[len(s.Parked)-1].Time,
		From: s.Bucket, Units: want, Round: s.Round,
	})
}

// exhausted reports whether the last round, recently, found nothing.
func (s *BucketState) exhausted(t time.Time) bool {
	return !s.ExhaustedAt.IsZero() && t.Before(s.ExhaustedAt.Add(RecheckAfter))
}

// next is the bucket after b in the ring, never this one.
func (s *BucketState) next(b int) int {
	n := (b + 1) % s.Sale.Buckets
	if n == s.Bucket {
		n = (n + 1) % s.Sale.Buckets
	}
	return n
}
