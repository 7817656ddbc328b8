package fraud

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

const validModel = `{
  "version": "v1",
  "bias": -4,
  "weights": {"card_users_24h": 1, "user_orders_1h": 0.5},
  "review_at": 0.5, "reject_at": 0.9,
  "rules": [
    {"name": "r1", "feature": "card_users_24h", "op": ">=", "value": 5, "action": "reject"},
    {"name": "r2", "action": "review", "all": [
      {"feature": "user_new_device", "op": "==", "value": 1},
      {"feature": "user_devices_24h", "op": ">", "value": 2}
    ]}
  ]
}`

func TestParseModel(t *testing.T) {
	m, err := ParseModel([]byte(validModel))
	if err != nil {
		t.Fatal(err)
	}
	want := &Model{
		Version: "v1", Transform: "log1p", Bias: -4, ReviewAt: 0.5, RejectAt: 0.9, MaxReasons: 5,
		Weights: map[string]float64{FeatureCardUsers24h: 1, FeatureUserOrders1h: 0.5},
		Rules: []Rule{
			{Name: "r1", Action: OutcomeReject, Conditions: []Condition{{FeatureCardUsers24h, ">=", 5}}},
			{Name: "r2", Action: OutcomeReview, Conditions: []Condition{{FeatureUserNewDevice, "==", 1}, {FeatureUserDevices24h, ">", 2}}},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parsed %+v\nwant   %+v", m, want)
	}
}

func TestParseModelErrors(t *testing.T) {
	tests := []struct {
		name, from, to, field string
	}{
		{"not json", `{`, `{{`, ""},
		{"unknown field", `"bias"`, `"bais"`, ""},
		{"missing version", `"version": "v1"`, `"version": " "`, "version"},
		{"bad transform", `"bias"`, `"transform": "sqrt", "bias"`, "transform"},
		{"unknown weight", `"user_orders_1h": 0.5`, `"user_orders_2h": 0.5`, "weights.user_orders_2h"},
		{"review above reject", `"review_at": 0.5`, `"review_at": 0.95`, "review_at/reject_at"},
		{"reject above 1", `"reject_at": 0.9`, `"reject_at": 1.5`, "review_at/reject_at"},
		{"negative review", `"review_at": 0.5`, `"review_at": -0.1`, "review_at/reject_at"},
		{"missing threshold", `"review_at": 0.5, `, ``, "review_at/reject_at"},
		{"max reasons", `"bias"`, `"max_reasons": 9, "bias"`, "max_reasons"},
		{"unknown op", `"op": ">="`, `"op": "=>"`, "rules[0].condition[0].op"},
		{"unknown rule feature", `"feature": "card_users_24h"`, `"feature": "card_users"`, "rules[0].condition[0].feature"},
		{"missing value", `"value": 5, `, ``, "rules[0].condition[0].value"},
		{"unknown action", `"action": "reject"`, `"action": "block"`, "rules[0].action"},
		{"missing name", `"name": "r2"`, `"name": ""`, "rules[1].name"},
		{"duplicate name", `"name": "r2"`, `"name": "r1"`, "rules[1].name"},
		{"bad condition in all", `"op": ">", "value": 2`, `"op": "!=", "value": 2`, "rules[1].condition[1].op"},
		{"no condition", `"action": "review", "all": [`, `"action": "review", "xall": [`, ""},
		{"trailing data", `]
}`, `]
} {}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validModel, tc.from, tc.to, 1)
			if src == validModel {
				t.Fatalf("%q not found in the model", tc.from)
			}
			_, err := ParseModel([]byte(src))
			if !errors.Is(err, ErrModel) {
				t.Fatalf("err %v, want ErrModel", err)
			}
			var me *ModelError
			if tc.field != "" && (!errors.As(err, &me) || me.Field != tc.field) {
				t.Errorf("err %v, want field %s", err, tc.field)
			}
		})
	}
	_, err := ParseModel([]byte(`{"version":"v","review_at":0,"reject_at":0,"rules":[{"name":"x","action":"review"}]}`))
	var me *ModelError
	if !errors.As(err, &me) || me.Field != "rules[0]" {
		t.Errorf("rule without conditions: %v", err)
	}
}

func TestScore(t *testing.T) {
	m := &Model{
		Version: "v", Transform: "identity", Bias: -10, ReviewAt: 0.5, RejectAt: 0.9, MaxReasons: 4,
		Weights: map[string]float64{"a_big": 3, "b_small": 1, "c_mid": 2, "d_neg": -1},
		Rules: []Rule{
			{Name: "review_rule", Action: OutcomeReview, Conditions: []Condition{{"x", ">", 0}}},
			{Name: "reject_rule", Action: OutcomeReject, Conditions: []Condition{{"y", ">=", 1}, {"x", "<", 10}}},
			{Name: "silent", Action: OutcomeReject, Conditions: []Condition{{"x", "==", 7}}},
		},
	}
	f := func(kv ...float64) []Feature {
		names := []string{"a_big", "b_small", "c_mid", "d_neg", "x", "y"}
		out := make([]Feature, len(kv))
		for i, v := range kv {
			out[i] = Feature{names[i], v}
		}
		return out
	}
	codes := func(d Decision) []string {
		var out []string
		for _, r := range d.Reasons {
			out = append(out, r.Code)
		}
		return out
	}
	tests := []struct {
		name     string
		features []Feature
		outcome  Outcome
		reasons  []string
	}{
		{"nothing fires", f(1, 1, 1, 1, 0, 0), OutcomeApprove, []string{"a_big", "c_mid", "b_small"}},
		{"rules first, reject before review, then contributions, capped", f(1, 1, 1, 0, 1, 1), OutcomeReject,
			[]string{"reject_rule", "review_rule", "a_big", "c_mid"}},
		{"a review rule alone", f(0, 0, 0, 0, 1, 0), OutcomeReview, []string{"review_rule"}},
		{"score at review_at", f(0, 10, 0, 0, 0, 0), OutcomeReview, []string{"b_small"}},
		{"score past reject_at", f(5, 0, 0, 0, 0, 0), OutcomeReject, []string{"a_big"}},
		{"negative contributions are not reasons", f(0, 0, 1, 5, 0, 0), OutcomeApprove, []string{"c_mid"}},
		{"bad values read as 0 or the cap", f(math.NaN(), -3, math.Inf(1), 0, 0, 0), OutcomeReject, []string{"c_mid"}},
	}
	for _, tc := range tests {
		d := Score(tc.features, m)
		if d.Outcome != tc.outcome || !reflect.DeepEqual(codes(d), tc.reasons) {
			t.Errorf("%s: %v %v (score %v), want %v %v", tc.name, d.Outcome, codes(d), d.Score, tc.outcome, tc.reasons)
		}
		if !(d.Score >= 0 && d.Score <= 1) || d.ModelVersion != "v" || len(d.Features) != len(tc.features) {
			t.Errorf("%s: score %v, version %q, %d features", tc.name, d.Score, d.ModelVersion, len(d.Features))
		}
	}
	if d := Score(nil, nil); d.Outcome != OutcomeReview {
		t.Errorf("no model: %v, want review", d.Outcome)
	}
}

func TestDeployModelParses(t *testing.T) {
	// The quality test parses it too; this checks what an operator edits.
	m := loadDeployModel(t)
	if m.Version == "" || len(m.Rules) == 0 || len(m.Weights) == 0 {
		t.Errorf("deploy model %+v", m)
	}
}
