package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrRules is wrapped by every error ParseRules returns.
var ErrRules = errors.New("pricing rules")

// Rules is the form of a pricing rules file: the parts of a Policy a shop
// tunes, each optional. An absent field keeps DefaultPolicy's value, so a
// file names only what it changes:
//
//	{"max_campaign_discount_bps": 2000,
//	 "demand": {"interval": "1m", "gain_bps": 10000, "floor_bps": 0,
//	            "ceiling_bps": 2000, "max_step_bps": 200}}
//
// `titan run --pricing-rules` prices with it, and `titan replay` takes the
// same flag to try a changed rule on recorded traffic.
type Rules struct {
	MaxCampaignDiscountBps *int64       `json:"max_campaign_discount_bps"`
	Demand                 *DemandRules `json:"demand"`
}

// DemandRules are the demand rule's settings (DemandPolicy); Interval is a
// Go duration ("1m", "30s"), "0s" turning the rule off.
type DemandRules struct {
	Interval   *string `json:"interval"`
	GainBps    *int64  `json:"gain_bps"`
	FloorBps   *int64  `json:"floor_bps"`
	CeilingBps *int64  `json:"ceiling_bps"`
	MaxStepBps *int64  `json:"max_step_bps"`
}

// ParseRules reads a rules file (Rules) over DefaultPolicy. Unknown fields,
// values out of range and trailing data are errors naming the field, so
// a mistyped rule fails where it is configured instead of pricing with the
// default.
func ParseRules(b []byte) (Policy, error) {
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return Policy{}, fmt.Errorf("%w: %w", ErrRules, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Policy{}, fmt.Errorf("%w: data after the rules object", ErrRules)
	}
	var errs []error
	bps := func(name string, v *int64, lo, hi int64, dst *int64) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			errs = append(errs, fmt.Errorf("%s %d not in %d..%d", name, *v, lo, hi))
			return
		}
		*dst = *v
	}
	bps("max_campaign_discount_bps", r.MaxCampaignDiscountBps, 0, maxPercentBps, &p.MaxCampaignDiscountBps)
	if d := r.Demand; d != nil {
		if d.Interval != nil {
			iv, err := time.ParseDuration(*d.Interval)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("demand.interval %q is not a duration", *d.Interval))
			case iv < 0:
				errs = append(errs, fmt.Errorf("demand.interval %v is negative", iv))
			default:
				p.Demand.Interval = iv
			}
		}
		bps("demand.gain_bps", d.GainBps, 0, maxDemandBps, &p.Demand.GainBps)
		bps("demand.floor_bps", d.FloorBps, minDemandBps, maxDemandBps, &p.Demand.FloorBps)
		bps("demand.ceiling_bps", d.CeilingBps, minDemandBps, maxDemandBps, &p.Demand.CeilingBps)
		bps("demand.max_step_bps", d.MaxStepBps, 0, maxDemandBps, &p.Demand.MaxStepBps)
		if p.Demand.FloorBps > p.Demand.CeilingBps {
			errs = append(errs, fmt.Errorf("demand.floor_bps %d is above demand.ceiling_bps %d", p.Demand.FloorBps, p.Demand.CeilingBps))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, fmt.Errorf("%w: %w", ErrRules, err)
	}
	return p, nil
}
