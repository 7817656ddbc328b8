package fraud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Model scores a feature vector: a logistic regression over transformed
// features, plus rules that force a review or a rejection. It is immutable
// once parsed, so one *Model can be shared by every partition's goroutine
// and replaced by a newly parsed one between two Steps.
type Model struct {
	Version string
	// Transform is applied to every feature before its weight: "log1p"
	// (log(1+max(v,0)), the default, so counts and amounts weigh by order
	// of magnitude) or "identity".
	Transform string
	Bias      float64
	Weights   map[string]float64
	// ReviewAt and RejectAt are thresholds on the probability.
	ReviewAt, RejectAt float64
	Rules              []Rule
	// MaxReasons caps Decision.Reasons (3 to 5; 5 when unset).
	MaxReasons int
}

// Rule fires when all its conditions hold.
type Rule struct {
	Name       string
	Conditions []Condition
	// Action is OutcomeReview or OutcomeReject.
	Action Outcome
}

// Condition compares one feature with a constant. A feature the decision
// did not see reads as 0.
type Condition struct {
	Feature string
	Op      string
	Value   float64
}

func (c Condition) holds(v float64) bool {
	switch c.Op {
	case ">=":
		return v >= c.Value
	case ">":
		return v > c.Value
	case "<=":
		return v <= c.Value
	case "<":
		return v < c.Value
	case "==":
		return v == c.Value
	}
	return false
}

// ErrModel is wrapped by every error ParseModel returns.
var ErrModel = errors.New("fraud: invalid model")

// ModelError says which part of a model file is wrong.
type ModelError struct {
	Field  string
	Reason string
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("fraud: invalid model: %s: %s", e.Field, e.Reason)
}

func (e *ModelError) Unwrap() error { return ErrModel }

// modelFile is the JSON form of a model; see model.json beside this file.
type modelFile struct {
	Version    string             `json:"version"`
	Transform  string             `json:"transform"`
	Bias       float64            `json:"bias"`
	Weights    map[string]float64 `json:"weights"`
	ReviewAt   *float64           `json:"review_at"`
	RejectAt   *float64           `json:"reject_at"`
	MaxReasons int                `json:"max_reasons"`
	Rules      []ruleFile         `json:"rules"`
}

// ruleFile is a rule: a single condition in feature/op/value, more in
// all, or both (every one must hold).
type ruleFile struct {
	Name    string          `json:"name"`
	Feature string          `json:"feature"`
	Op      string          `json:"op"`
	Value   *float64        `json:"value"`
	All     []conditionFile `json:"all"`
	Action  string          `json:"action"`
}

type conditionFile struct {
	Feature string   `json:"feature"`
	Op      string   `json:"op"`
	Value   *float64 `json:"value"`
}

var ops = map[string]bool{">=": true, ">": true, "<=": true, "<": true, "==": true}

// ParseModel reads and checks a model file. Unknown fields are refused so a
// misspelt key fails loudly instead of silently dropping a weight.
func ParseModel(b []byte) (*Model, error) {
	var f modelFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if dec.More() {
		return nil, &ModelError{Field: "", Reason: "trailing data after the model"}
	}
	bad := func(field, format string, args ...any) (*Model, error) {
		return nil, &ModelError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	m := &Model{Version: f.Version, Transform: f.Transform, Bias: f.Bias, MaxReasons: f.MaxReasons}
	if strings.TrimSpace(m.Version) == "" {
		return bad("version", "missing")
	}
	switch m.Transform {
	case "":
		m.Transform = "log1p"
	case "log1p", "identity":
	default:
		return bad("transform", "%q is not log1p or identity", m.Transform)
	}
	if !finite(m.Bias) {
		return bad("bias", "not finite")
	}
	m.Weights = make(map[string]float64, len(f.Weights))
	for name, w := range f.Weights {
		if !KnownFeature(name) {
			return bad("weights."+name, "unknown feature")
		}
		if !finite(w) {
			return bad("weights."+name, "not finite")
		}
		m.Weights[name] = w
	}
	if f.ReviewAt == nil || f.RejectAt == nil {
		return bad("review_at/reject_at", "both thresholds are required")
	}
	m.ReviewAt, m.RejectAt = *f.ReviewAt, *f.RejectAt
	if !(0 <= m.ReviewAt && m.ReviewAt <= m.RejectAt && m.RejectAt <= 1) {
		return bad("review_at/reject_at", "want 0 <= review_at (%v) <= reject_at (%v) <= 1", m.ReviewAt, m.RejectAt)
	}
	switch {
	case m.MaxReasons == 0:
		m.MaxReasons = 5
	case m.MaxReasons < 3 || m.MaxReasons > 5:
		return bad("max_reasons", "%d is not between 3 and 5", m.MaxReasons)
	}
	names := make(map[string]bool, len(f.Rules))
	for i, rf := range f.Rules {
		field := "rules[" + strconv.Itoa(i) + "]"
		r, err := parseRule(field, rf)
		if err != nil {
			return nil, err
		}
		if names[r.Name] {
			return bad(field+".name", "duplicate rule %q", r.Name)
		}
		names[r.Name] = true
		m.Rules = append(m.Rules, r)
	}
	return m, nil
}

func parseRule(field string, rf ruleFile) (Rule, error) {
	r := Rule{Name: rf.Name}
	if strings.TrimSpace(r.Name) == "" {
		return r, &ModelError{Field: field + ".name", Reason: "missing"}
	}
	switch rf.Action {
	case "review":
		r.Action = OutcomeReview
	case "reject":
		r.Action = OutcomeReject
	default:
		return r, &ModelError{Field: field + ".action", Reason: fmt.Sprintf("%q is not review or reject", rf.Action)}
	}
	conds := rf.All
	if rf.Feature != "" || rf.Op != "" || rf.Value != nil {
		conds = append([]conditionFile{{Feature: rf.Feature, Op: rf.Op, Value: rf.Value}}, conds...)
	}
	if len(conds) == 0 {
		return r, &ModelError{Field: field, Reason: "no condition"}
	}
	for j, c := range conds {
		cf := fmt.Sprintf("%s.condition[%d]", field, j)
		switch {
		case !KnownFeature(c.Feature):
			return r, &ModelError{Field: cf + ".feature", Reason: fmt.Sprintf("unknown feature %q", c.Feature)}
		case !ops[c.Op]:
			return r, &ModelError{Field: cf + ".op", Reason: fmt.Sprintf("unknown op %q", c.Op)}
		case c.Value == nil:
			return r, &ModelError{Field: cf + ".value", Reason: "missing"}
		case !finite(*c.Value):
			return r, &ModelError{Field: cf + ".value", Reason: "not finite"}
		}
		r.Conditions = append(r.Conditions, Condition{Feature: c.Feature, Op: c.Op, Value: *c.Value})
	}
	return r, nil
}

// maxFeatureValue bounds what a feature can weigh, so a corrupt value
// cannot turn the score into NaN or Inf.
const maxFeatureValue = 1e15

// clean maps a feature value to a finite, non-negative number.
func clean(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > maxFeatureValue:
		return maxFeatureValue
	}
	return v
}

func (m *Model) transform(v float64) float64 {
	v = clean(v)
	if m.Transform == "identity" {
		return v
	}
	return math.Log1p(v)
}

// Score decides on a feature vector. When a name appears twice the last
// value wins. Reasons list the rules that fired (reject rules first, then
// review rules, each in file order), then the features with the largest
// positive contributions, up to m.MaxReasons. A nil model sends every order
// to review: the order goes ahead and a person looks at it.
func Score(features []Feature, m *Model) Decision {
	d := Decision{Features: append([]Feature(nil), features...)}
	if m == nil {
		d.Outcome = OutcomeReview
		d.Reasons = []Reason{{Code: "no_model", Detail: "no fraud model loaded"}}
		return d
	}
	d.ModelVersion = m.Version
	values := make(map[string]float64, len(features))
	for _, f := range features {
		values[f.Name] = clean(f.Value)
	}

	// Summed in name order: map order would change the last bits of the
	// score between runs, and a replay must decide as the first run did.
	names := make([]string, 0, len(m.Weights))
	for name := range m.Weights {
		names = append(names, name)
	}
	sort.Strings(names)
	z := m.Bias
	contribs := make([]Reason, 0, len(names))
	for _, name := range names {
		c := m.Weights[name] * m.transform(values[name])
		z += c
		if c > 0 {
			contribs = append(contribs, Reason{
				Code:         name,
				Detail:       name + "=" + formatValue(values[name]),
				Contribution: c,
			})
		}
	}
	d.Score = 1 / (1 + math.Exp(-z))
	sort.Slice(contribs, func(i, j int) bool {
		if contribs[i].Contribution != contribs[j].Contribution {
			return contribs[i].Contribution > contribs[j].Contribution
		}
		return contribs[i].Code < contribs[j].Code
	})

	var rejects, reviews []Reason
	for _, r := range m.Rules {
		detail, ok := r.fires(values)
		if !ok {
			continue
		}
		if r.Action == OutcomeReject {
			rejects = append(rejects, Reason{Code: r.Name, Detail: detail})
		} else {
			reviews = append(reviews, Reason{Code: r.Name, Detail: detail})
		}
	}
	switch {
	case len(rejects) > 0 || d.Score >= m.RejectAt:
		d.Outcome = OutcomeReject
	case len(reviews) > 0 || d.Score >= m.ReviewAt:
		d.Outcome = OutcomeReview
	default:
		d.Outcome = OutcomeApprove
	}
	reasons := append(append(rejects, reviews...), contribs...)
	max := m.MaxReasons
	if max <= 0 {
		max = 5
	}
	if len(reasons) > max {
		reasons = reasons[:max]
	}
	d.Reasons = reasons
	return d
}

// fires checks every condition and describes them when all hold.
func (r Rule) fires(values map[string]float64) (string, bool) {
	parts := make([]string, len(r.Conditions))
	for i, c := range r.Conditions {
		v := values[c.Feature]
		if !c.holds(v) {
			return "", false
		}
		parts[i] = c.Feature + "=" + formatValue(v) + " " + c.Op + " " + formatValue(c.Value)
	}
	return strings.Join(parts, " and "), true
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
