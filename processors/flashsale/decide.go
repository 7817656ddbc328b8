package flashsale

import (
	"slices"
	"time"
)

// Bounds on what one key keeps.
const (
	// MaxBuckets caps the buckets of a sale.
	MaxBuckets = 256
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

// SaleState is the state of a sale key.
type SaleState struct {
	Sale    Sale
	Defined bool
	// Reports holds the final count of each closed bucket; Settled is set
	// once every bucket has reported.
	Reports map[int]int64
	Settled bool
	Seen    Seen
}

// Valid reports whether a sale definition can be run.
func (s Sale) Valid() bool {
	return s.ID != "" && s.SKU != "" && s.Units > 0 && s.PerUserLimit > 0 && s.PriceMinor >= 0 &&
		s.Buckets >= 1 && s.Buckets <= MaxBuckets && s.End.After(s.Start)
}

// DecideSale applies a message to a sale key. Define is applied once; the
// first definition wins and a repeated one changes nothing. Reports settle
// the sale once every bucket has closed; a report after that repeats the
// settlement, which the inventory applies once by its command id.
func DecideSale(s SaleState, m Message, r Router) (SaleState, Output) {
	s.Seen = s.Seen.clone()
	if !s.Seen.fresh(m) {
		return s, Output{}
	}
	if m.Kind == KindReport {
		return s.report(m)
	}
	if m.Kind != KindDefine || s.Defined || !m.Sale.Valid() {
		return s, Output{}
	}
	s.Sale, s.Defined = m.Sale, true
	var out Output
	for b := range s.Sale.Buckets {
		out.Messages = append(out.Messages, Message{
			Kind: KindOpen, SaleID: s.Sale.ID, Key: r.Bucket(s.Sale.ID, b), Time: m.Time,
			Sale: s.Sale, Bucket: b, Units: s.Sale.Share(b),
		})
	}
	return s, out
}

func (s SaleState) report(m Message) (SaleState, Output) {
	if !s.Defined || m.Bucket < 0 || m.Bucket >= s.Sale.Buckets {
		return s, Output{}
	}
	reports := make(map[int]int64, len(s.Reports)+1)
	for b, n := range s.Reports {
		reports[b] = n
	}
	reports[m.Bucket] = m.Qty
	s.Reports = reports
	if len(s.Reports) < s.Sale.Buckets {
		return s, Output{}
	}
	var sold int64
	for _, n := range s.Reports {
		sold += n
	}
	s.Settled = true
	return s, Output{Settle: &Settlement{SaleID: s.Sale.ID, SKU: s.Sale.SKU, Units: s.Sale.Units, Sold: sold}}
}

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
	s.Seen = s.Seen.clone()
	s.Parked = slices.Clone(s.Parked)
	if !s.Seen.fresh(m) {
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

// UserState is the state of a user key.
type UserState struct {
	Purchased int64
	// Pending are the takes sent and not yet answered.
	Pending []Message
	// Results are the answers to recent attempts, oldest first.
	Results []Result
	Seen    Seen
}

// DecideUser applies a message to a user key.
func DecideUser(s UserState, m Message, r Router) (UserState, Output) {
	s.Seen = s.Seen.clone()
	if !s.Seen.fresh(m) {
		return s, Output{}
	}
	s.Pending = slices.Clone(s.Pending)
	s.Results = slices.Clone(s.Results)
	var out Output
	switch m.Kind {
	case KindPurchase:
		if res, ok := s.result(m.IdempotencyKey); ok {
			out.Results = append(out.Results, res)
			return s, out
		}
		if s.pending(m.IdempotencyKey) >= 0 {
			return s, out
		}
		if m.Qty <= 0 || m.UserID == "" || m.IdempotencyKey == "" || m.Bucket < 0 {
			res := Result{SaleID: m.SaleID, IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Qty: m.Qty,
				Status: StatusRejected, Reason: ReasonInvalid, Bucket: m.Bucket, Time: m.Time}
			s.remember(res)
			out.Results = append(out.Results, res)
			return s, out
		}
		take := Message{
			Kind: KindTake, SaleID: m.SaleID, Key: r.Bucket(m.SaleID, m.Bucket), Time: m.Time,
			IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Qty: m.Qty, Bucket: m.Bucket,
			Already: s.held(),
		}
		s.Pending = append(s.Pending, take)
		out.Messages = append(out.Messages, take)
	case KindTakeResult:
		i := s.pending(m.IdempotencyKey)
		if i < 0 {
			return s, out
		}
		s.Pending = slices.Delete(s.Pending, i, i+1)
		res := Result{SaleID: m.SaleID, IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Qty: m.Qty,
			Status: StatusPurchased, Bucket: m.Bucket, PriceMinor: m.Sale.PriceMinor, Time: m.Time}
		if m.Reason != "" {
			res.Status, res.Reason, res.PriceMinor = StatusRejected, m.Reason, 0
		} else {
			s.Purchased += m.Qty
		}
		s.remember(res)
		out.Results = append(out.Results, res)
	}
	return s, out
}

// held is what the user bought plus what is in flight.
func (s *UserState) held() int64 {
	n := s.Purchased
	for _, p := range s.Pending {
		n += p.Qty
	}
	return n
}

func (s *UserState) pending(key string) int {
	return slices.IndexFunc(s.Pending, func(p Message) bool { return p.IdempotencyKey == key })
}

func (s *UserState) result(key string) (Result, bool) {
	for i := len(s.Results) - 1; i >= 0; i-- {
		if s.Results[i].IdempotencyKey == key {
			return s.Results[i], true
		}
	}
	return Result{}, false
}

func (s *UserState) remember(res Result) {
	s.Results = append(s.Results, res)
	if len(s.Results) > MaxResults {
		s.Results = slices.Delete(s.Results, 0, len(s.Results)-MaxResults)
	}
}
