package flashsale

import "slices"

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
	if !fresh(&s.Seen, m) {
		return s, Output{}
	}
	s.Pending = slices.Clone(s.Pending)
	s.Results = slices.Clone(s.Results)
	var out Output
	switch m.Kind {
	case KindPurchase:
		// An idempotency key names one attempt: a retry (same qty) gets
		// the attempt's answer, or waits for it; another qty under the
		// key is another attempt, refused and not remembered, so the
		// first keeps its result.
		if res, ok := s.result(m.IdempotencyKey); ok {
			if res.Qty != m.Qty {
				res = conflict(m)
			}
			out.Results = append(out.Results, res)
			return s, out
		}
		if i := s.pending(m.IdempotencyKey); i >= 0 {
			if s.Pending[i].Qty != m.Qty {
				out.Results = append(out.Results, conflict(m))
			}
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
		// An answer with no take pending is still the attempt's answer
		// when it has none yet: the take went out, and the state that
		// recorded it was lost with a crash before it reached the
		// changelog; the answer then came in before the purchase was
		// decided again. The bucket answers a take once (a take sent again
		// carries the same origin), so dropping it would leave the attempt
		// unanswered for good.
		if i := s.pending(m.IdempotencyKey); i >= 0 {
			s.Pending = slices.Delete(s.Pending, i, i+1)
		} else if _, answered := s.result(m.IdempotencyKey); answered {
			return s, out
		}
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

// conflict answers a purchase whose idempotency key names another attempt.
func conflict(m Message) Result {
	return Result{SaleID: m.SaleID, IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Qty: m.Qty,
		Status: StatusRejected, Reason: ReasonIdempotencyConflict, Bucket: m.Bucket, Time: m.Time}
}
