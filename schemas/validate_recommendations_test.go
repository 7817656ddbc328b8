package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/schemas"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

func TestValidateViewEvent(t *testing.T) {
	long := strings.Repeat("x", schemas.MaxIDBytes+1)
	ok := func() *recommendationsv1.ViewEvent {
		return &recommendationsv1.ViewEvent{EventId: "e", UserId: "u", Sku: "a", SessionId: "s", TimestampMs: 1}
	}
	tests := []struct {
		name   string
		mod    func(*recommendationsv1.ViewEvent)
		field  string
		reason schemas.Reason
	}{
		{"valid", func(*recommendationsv1.ViewEvent) {}, "", ""},
		{"no session id", func(v *recommendationsv1.ViewEvent) { v.SessionId = "" }, "", ""},
		{"no event id", func(v *recommendationsv1.ViewEvent) { v.EventId = "" }, "event_id", schemas.ReasonMissingEventID},
		{"long event id", func(v *recommendationsv1.ViewEvent) { v.EventId = long }, "event_id", schemas.ReasonTooLong},
		{"no user", func(v *recommendationsv1.ViewEvent) { v.UserId = "" }, "user_id", schemas.ReasonMissingUserID},
		{"long user", func(v *recommendationsv1.ViewEvent) { v.UserId = long }, "user_id", schemas.ReasonTooLong},
		{"no sku", func(v *recommendationsv1.ViewEvent) { v.Sku = "" }, "sku", schemas.ReasonMissingSKU},
		{"long sku", func(v *recommendationsv1.ViewEvent) { v.Sku = long }, "sku", schemas.ReasonTooLong},
		{"control in sku", func(v *recommendationsv1.ViewEvent) { v.Sku = "a\nb" }, "sku", schemas.ReasonInvalidSKU},
		{"bad utf-8 in sku", func(v *recommendationsv1.ViewEvent) { v.Sku = "a\xff" }, "sku", schemas.ReasonInvalidSKU},
		{"long session", func(v *recommendationsv1.ViewEvent) { v.SessionId = long }, "session_id", schemas.ReasonTooLong},
		{"made-up session", func(v *recommendationsv1.ViewEvent) { v.SessionId = schemas.ReservedPrefix + "gap:1" }, "session_id", schemas.ReasonReservedID},
		{"no time", func(v *recommendationsv1.ViewEvent) { v.TimestampMs = 0 }, "timestamp_ms", schemas.ReasonInvalidTimestamp},
		{"before 1970", func(v *recommendationsv1.ViewEvent) { v.TimestampMs = -5 }, "timestamp_ms", schemas.ReasonInvalidTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := ok()
			tc.mod(v)
			err := schemas.ValidateViewEvent(v)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var inv *schemas.InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.field || inv.Reason != tc.reason || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("error %v, want %s %s", err, tc.field, tc.reason)
			}
		})
	}
	if !errors.Is(schemas.ValidateViewEvent(nil), schemas.ErrInvalid) {
		t.Fatal("nil view passed")
	}
}
