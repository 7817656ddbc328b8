package fraud

import "time"

// Feature names: the vocabulary of the model file. Counts and amounts
// include the observation being scored; amounts are in minor units.
const (
	FeatureDeviceOrders1h  = "device_orders_1h"
	FeatureDeviceOrders24h = "device_orders_24h"
	FeatureDeviceUsers24h  = "device_users_24h"
	FeatureDeviceFailed24h = "device_failed_24h"

	FeatureCardOrders1h  = "card_orders_1h"
	FeatureCardOrders24h = "card_orders_24h"
	FeatureCardAmount1h  = "card_amount_1h"
	FeatureCardUsers24h  = "card_users_24h"
	FeatureCardFailed24h = "card_failed_24h"

	FeatureUserOrders1m   = "user_orders_1m"
	FeatureUserOrders1h   = "user_orders_1h"
	FeatureUserOrders24h  = "user_orders_24h"
	FeatureUserAmount1m   = "user_amount_1m"
	FeatureUserAmount1h   = "user_amount_1h"
	FeatureUserAmount24h  = "user_amount_24h"
	FeatureUserDevices24h = "user_devices_24h"
	// FeatureUserNewDevice is 1 when the order's device is not among the
	// user's devices of the last 24 h and the user was seen before.
	FeatureUserNewDevice = "user_new_device"
	// FeatureUserNewDevices1h counts the devices that first appeared for
	// the user in the last hour, not counting the device of the user's
	// first observation: an account hopping onto several new devices.
	FeatureUserNewDevices1h = "user_new_devices_1h"
	FeatureUserFailed24h    = "user_failed_24h"
	// FeatureUserAgeHours is the time since the user's first observation.
	FeatureUserAgeHours = "user_age_hours"

	FeatureOrderAmount = "order_amount"
)

var knownFeatures = map[string]bool{
	FeatureDeviceOrders1h: true, FeatureDeviceOrders24h: true, FeatureDeviceUsers24h: true, FeatureDeviceFailed24h: true,
	FeatureCardOrders1h: true, FeatureCardOrders24h: true, FeatureCardAmount1h: true, FeatureCardUsers24h: true, FeatureCardFailed24h: true,
	FeatureUserOrders1m: true, FeatureUserOrders1h: true, FeatureUserOrders24h: true,
	FeatureUserAmount1m: true, FeatureUserAmount1h: true, FeatureUserAmount24h: true,
	FeatureUserDevices24h: true, FeatureUserNewDevice: true, FeatureUserNewDevices1h: true,
	FeatureUserFailed24h: true, FeatureUserAgeHours: true, FeatureOrderAmount: true,
}

// KnownFeature reports whether name is in the model's vocabulary.
func KnownFeature(name string) bool { return knownFeatures[name] }

// Features reads the entity's windows at now, for the API. The features
// that depend on an order (user_new_device, order_amount) are left out.
func (e Entity) Features(now time.Time) []Feature {
	return e.features(StageOf(e.Key), now.UnixMilli(), nil)
}

// features measures the entity as the given stage at now. o, when set, is
// the order being scored and newDevice says whether its device was new to
// the user before it was counted.
func (e Entity) features(st Stage, now int64, o *scoring) []Feature {
	switch st {
	case StageDevice:
		h, d := hourTier.sum(e.Hours, now, window24h), minuteTier.sum(e.Minutes, now, window1h)
		return []Feature{
			{FeatureDeviceOrders1h, float64(d.orders)},
			{FeatureDeviceOrders24h, float64(h.orders)},
			{FeatureDeviceUsers24h, float64(distinct(e.Members, now, window24h))},
			{FeatureDeviceFailed24h, float64(h.failed)},
		}
	case StageCard:
		h, d := hourTier.sum(e.Hours, now, window24h), minuteTier.sum(e.Minutes, now, window1h)
		return []Feature{
			{FeatureCardOrders1h, float64(d.orders)},
			{FeatureCardOrders24h, float64(h.orders)},
			{FeatureCardAmount1h, float64(d.amount)},
			{FeatureCardUsers24h, float64(distinct(e.Members, now, window24h))},
			{FeatureCardFailed24h, float64(h.failed)},
		}
	case StageUser:
		m := fineTier.sum(e.Fine, now, window1m)
		d := minuteTier.sum(e.Minutes, now, window1h)
		h := hourTier.sum(e.Hours, now, window24h)
		var age float64
		if !e.FirstSeen.IsZero() && now > e.FirstSeen.UnixMilli() {
			age = float64(now-e.FirstSeen.UnixMilli()) / float64(time.Hour/time.Millisecond)
		}
		fs := []Feature{
			{FeatureUserOrders1m, float64(m.orders)},
			{FeatureUserOrders1h, float64(d.orders)},
			{FeatureUserOrders24h, float64(h.orders)},
			{FeatureUserAmount1m, float64(m.amount)},
			{FeatureUserAmount1h, float64(d.amount)},
			{FeatureUserAmount24h, float64(h.amount)},
			{FeatureUserDevices24h, float64(distinct(e.Members, now, window24h))},
		}
		if o != nil {
			fs = append(fs, Feature{FeatureUserNewDevice, boolValue(o.newDevice)})
		}
		return append(fs,
			Feature{FeatureUserNewDevices1h, float64(arrived(e.Members, now, window1h, e.FirstSeen.UnixMilli()))},
			Feature{FeatureUserFailed24h, float64(h.failed)},
			Feature{FeatureUserAgeHours, age},
		)
	}
	return nil
}

// scoring is what a stage knows about the order it is measuring.
type scoring struct {
	newDevice bool
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
