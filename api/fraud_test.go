package api

import (
	"reflect"
	"testing"

	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

func TestGetFraudUser(t *testing.T) {
	e := newOrderEnv(t, Options{})
	e.saga.fraud.set("u:u/1", &fraudv1.Entity{Key: "u:u/1", FirstSeenMs: 1_700_000_000_000,
		Hours:   []*fraudv1.Bucket{{StartMs: 1, Orders: 2}, {StartMs: 2, Orders: 3}},
		Members: []*fraudv1.Member{{Id: "d-1"}},
		Decisions: []*fraudv1.Decision{
			{OrderId: "o-1", Outcome: fraudv1.Outcome_OUTCOME_APPROVE, Score: 0.1, ModelVersion: "m-1", TimestampMs: 1_700_000_001_000},
			{OrderId: "o-2", Outcome: fraudv1.Outcome_OUTCOME_REVIEW, Score: 0.6, ModelVersion: "m-2", TimestampMs: 1_700_000_002_500,
				Reasons: []*fraudv1.Reason{{Code: "user_orders_1h", Detail: "5 orders in the hour", Contribution: 1.25}, {Code: "new_device"}}},
		}})
	// Device and card keys are not users.
	e.saga.fraud.set("d:u-2", &fraudv1.Entity{Key: "d:u-2"})

	r := e.mustDo(t, "GET", "/v1/fraud/users/u%2F1", ``, 200)
	checkFields(t, r, []string{"user_id", "features", "first_seen", "decisions"})
	got := decode[fraudUserJSON](t, r)
	want := fraudUserJSON{
		UserID:    "u/1",
		Features:  map[string]float64{"user_orders_24h": 5, "user_devices": 1},
		FirstSeen: "2023-11-14T22:13:20Z",
		Decisions: []decisionJSON{
			{OrderID: "o-2", Outcome: "review", Score: 0.6, ModelVersion: "m-2", At: "2023-11-14T22:13:22.5Z", Reasons: []reasonJSON{
				{Code: "user_orders_1h", Detail: "5 orders in the hour", Contribution: 1.25}, {Code: "new_device"},
			}},
			{OrderID: "o-1", Outcome: "approve", Score: 0.1, ModelVersion: "m-1", At: "2023-11-14T22:13:21Z", Reasons: []reasonJSON{}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user %+v\nwant %+v", got, want)
	}
	checkError(t, e.do("GET", "/v1/fraud/users/u-2", ``), errUserNotFound.Code)
	checkError(t, e.do("GET", "/v1/fraud/users/u-3", ``), errUserNotFound.Code)

	// A user the saga has seen through the API.
	e.mustDo(t, "POST", "/v1/orders", orderBody("o-9", "u-9", "sku-1"), 201)
	e.saga.fraud.set("u:u-9", &fraudv1.Entity{Key: "u:u-9"})
	if got := decode[fraudUserJSON](t, e.mustDo(t, "GET", "/v1/fraud/users/u-9", ``, 200)); len(got.Decisions) != 0 || got.Decisions == nil {
		t.Errorf("user %+v", got)
	}
}
