package sessiongen

import "slices"

// Quality is how well top-10 lists recover the planted groups: for every
// planted item, its relevant items are the other members of its group.
type Quality struct {
	// Items is the number of planted items, Relevant the number of
	// (item, partner) pairs planted, Hits how many of those partners were
	// in their item's top 10, Listed how many items the top 10s held.
	Items, Relevant, Hits, Listed int
	// Recall is Hits/Relevant, Precision Hits/Listed.
	Recall, Precision float64
	// PrecisionCeiling is the best Precision the lists could reach: a
	// planted item has only one or two partners, so the rest of a full
	// top 10 is popular items, which are co-viewed in truth, not noise.
	PrecisionCeiling float64
}

// RecallPrecisionAt10 scores top, which lists an item's recommendations,
// best first; only the first 10 count.
func (s Stream) RecallPrecisionAt10(top func(sku string) []string) Quality {
	var q Quality
	ceiling := 0
	for _, grp := range s.Groups {
		for _, item := range grp {
			list := top(item)
			if len(list) > 10 {
				list = list[:10]
			}
			q.Items++
			q.Listed += len(list)
			q.Relevant += len(grp) - 1
			ceiling += min(len(grp)-1, len(list))
			for _, other := range grp {
				if other != item && slices.Contains(list, other) {
					q.Hits++
				}
			}
		}
	}
	if q.Relevant > 0 {
		q.Recall = float64(q.Hits) / float64(q.Relevant)
	}
	if q.Listed > 0 {
		q.Precision = float64(q.Hits) / float64(q.Listed)
		q.PrecisionCeiling = float64(ceiling) / float64(q.Listed)
	}
	return q
}

// TrendWatch measures how soon the trend's Partner shows in its Item's top
// 10: feed it every event index after applying that event.
type TrendWatch struct {
	Item, Partner string
	// Start is the index of the trend's first event.
	Start int
	// Latency is how many events after Start it took, -1 until it showed.
	Latency int
	// TrendEvents is how many of the trend's own events had passed by
	// then.
	TrendEvents int
	events      []Event
}

// WatchTrend starts watching the stream's trend; nil without one.
func (s Stream) WatchTrend() *TrendWatch {
	if s.Shift.AtEvent < 0 || s.Shift.Item == "" {
		return nil
	}
	return &TrendWatch{Item: s.Shift.Item, Partner: s.Shift.Partner, Start: s.Shift.AtEvent, Latency: -1, events: s.Events}
}

// Observe is called after event i was applied, with a function giving the
// Item's recommendations; it reports whether the Partner has shown, and
// stops calling top once it has.
func (w *TrendWatch) Observe(i int, top func(sku string) []string) bool {
	if w.Latency >= 0 {
		return true
	}
	if i < w.Start {
		return false
	}
	if w.events[i].Trend {
		w.TrendEvents++
	}
	list := top(w.Item)
	if len(list) > 10 {
		list = list[:10]
	}
	if slices.Contains(list, w.Partner) {
		w.Latency = i - w.Start
		return true
	}
	return false
}
