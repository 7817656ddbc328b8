package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type itemRecs struct {
	SKU             string `json:"sku"`
	Recommendations []struct {
		SKU       string  `json:"sku"`
		ViewScore float64 `json:"view_score"`
		Reason    string  `json:"reason"`
	} `json:"recommendations"`
}

func (r itemRecs) skus() []string {
	var out []string
	for _, x := range r.Recommendations {
		out = append(out, x.SKU)
	}
	return out
}

type viewsAccepted struct {
	Accepted int `json:"accepted"`
	Views    []struct {
		EventID     string `json:"event_id"`
		UserID      string `json:"user_id"`
		SKU         string `json:"sku"`
		TimestampMs int64  `json:"timestamp_ms"`
	} `json:"views"`
}

// TestViewsEndToEnd posts views over HTTP to an instance on the real
// broker and reads what the recommendations processor made of them: a
// session's items become each other's neighbours, a user who viewed one
// of them is recommended the others, a batch posted again with the same
// idempotency keys repeats the same events, and a key used again for
// another view does not count it.
func TestViewsEndToEnd(t *testing.T) {
	c, _ := startInstance(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	recs := func(path string) itemRecs {
		t.Helper()
		var r itemRecs
		if err := json.Unmarshal(c.do("GET", path, "", 200), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// until polls the item's recommendations until they hold every SKU
	// of want.
	until := func(sku string, want ...string) itemRecs {
		t.Helper()
		var r itemRecs
		if err := poll(ctx, func() bool {
			r = recs("/v1/recommendations/items/" + sku)
			return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(r.skus(), w) })
		}); err != nil {
			t.Fatalf("item %s: recommendations %v, never held %v: %v", sku, r.skus(), want, err)
		}
		return r
	}
	if r := recs("/v1/recommendations/items/e2e-a"); len(r.Recommendations) != 0 {
		t.Fatalf("an item nobody viewed has recommendations %v", r.skus())
	}

	// One shopper's session over three items, a second shopper's single
	// view of the first.
	now := time.Now().UnixMilli()
	view := func(user, sku string, at int64, key string) string {
		return fmt.Sprintf(`{"user_id":%q,"sku":%q,"session_id":%q,"timestamp_ms":%d,"idempotency_key":%q}`, user, sku, "s-"+user, at, key)
	}
	session := `{"views":[` + strings.Join([]string{
		view("e2e-u1", "e2e-a", now-3000, "k-1"),
		view("e2e-u1", "e2e-b", now-2000, "k-2"),
		view("e2e-u1", "e2e-c", now-1000, "k-3"),
	}, ",") + `]}`
	var first viewsAccepted
	decodeInto(t, c.do("POST", "/v1/recommendations/views", session, 202), &first)
	if first.Accepted != 3 || len(first.Views) != 3 || first.Views[1].SKU != "e2e-b" || first.Views[1].TimestampMs != now-2000 {
		t.Fatalf("accepted %+v", first)
	}
	c.do("POST", "/v1/recommendations/views", `{"user_id":"e2e-u2","sku":"e2e-a"}`, 202)

	a := until("e2e-a", "e2e-b", "e2e-c")
	for _, x := range a.Recommendations {
		if x.Reason != "co-viewed" || x.ViewScore <= 0 {
			t.Errorf("item e2e-a: %+v, want co-viewed with a view score", x)
		}
	}
	until("e2e-c", "e2e-a", "e2e-b")
	var user itemRecs
	if err := poll(ctx, func() bool {
		user = recs("/v1/recommendations/users/e2e-u2")
		return slices.Contains(user.skus(), "e2e-b") && slices.Contains(user.skus(), "e2e-c")
	}); err != nil {
		t.Fatalf("user e2e-u2 is recommended %v, never e2e-b and e2e-c: %v", user.skus(), err)
	}
	if slices.Contains(user.skus(), "e2e-a") {
		t.Errorf("user e2e-u2 is recommended e2e-a, which they viewed: %v", user.skus())
	}

	// The same batch again, same keys: the same events.
	var again viewsAccepted
	decodeInto(t, c.do("POST", "/v1/recommendations/views", session, 202), &again)
	for i := range again.Views {
		if again.Views[i].EventID != first.Views[i].EventID {
			t.Errorf("view %d: event id %q, first sent as %q", i, again.Views[i].EventID, first.Views[i].EventID)
		}
	}
	// A key used again for another view names the event the processor
	// already holds: it refuses the second as a conflict, where a view of
	// its own would have paired e2e-e with e2e-a. A later view of the same
	// user, on the same partition behind it, shows once it lands that the
	// second was seen.
	c.do("POST", "/v1/recommendations/views", view("e2e-u1", "e2e-e", time.Now().UnixMilli(), "k-1"), 202)
	c.do("POST", "/v1/recommendations/views", view("e2e-u1", "e2e-d", time.Now().UnixMilli(), "k-4"), 202)
	if a := until("e2e-a", "e2e-d"); slices.Contains(a.skus(), "e2e-e") {
		t.Errorf("e2e-a is paired with e2e-e, sent under a key already used: %v", a.skus())
	}

	// A bad batch sends nothing: its good first view never shows.
	c.refused("POST", "/v1/recommendations/views",
		`{"views":[`+view("e2e-u3", "e2e-x", now, "k-5")+`,{"user_id":"e2e-u3","sku":"e2e-y","timestamp_ms":12.5}]}`, 400, "invalid_field")
	c.do("POST", "/v1/recommendations/views", view("e2e-u3", "e2e-z", time.Now().UnixMilli(), "k-6"), 202)
	c.do("POST", "/v1/recommendations/views", view("e2e-u3", "e2e-y", time.Now().UnixMilli(), "k-7"), 202)
	if z := until("e2e-y", "e2e-z"); slices.Contains(z.skus(), "e2e-x") {
		t.Errorf("e2e-y is paired with e2e-x, from a batch that was refused: %v", z.skus())
	}
}
