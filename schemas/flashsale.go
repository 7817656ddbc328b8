package schemas

import "fmt"

// The reasons a flash-sale purchase is dead-lettered for besides the shared
// ones (topologies/flashsaletopo checks a client's purchase with the id rule,
// CheckClientID, and the time window).
const (
	ReasonMissingSaleID         Reason = "missing_sale_id"
	ReasonMissingIdempotencyKey Reason = "missing_idempotency_key"
	// ReasonInvalidBucket: the bucket a purchase names is not one a sale
	// can have.
	ReasonInvalidBucket Reason = "invalid_bucket"
)

// Bounds of a flash sale's messages.
const (
	// MaxPurchaseQty bounds the units of one purchase.
	MaxPurchaseQty = 1000
	// MaxSaleBuckets bounds the buckets a sale's units are spread over.
	MaxSaleBuckets = 256
)

// CheckPurchase applies the rules a client's flash-sale purchase meets,
// wherever it is checked (the API before it sends one, the topology when
// it reads one): ids by the id rule, the buyer's and the attempt's out of
// Titan's namespace, a bounded qty, and a bucket a sale can have. The
// error names the first field that breaks them.
func CheckPurchase(saleID, userID, idempotencyKey string, qty int64, bucket int) error {
	if err := CheckID("sale_id", saleID, ReasonMissingSaleID); err != nil {
		return err
	}
	if err := CheckClientID("user_id", userID, ReasonMissingUserID); err != nil {
		return err
	}
	if err := CheckClientID("idempotency_key", idempotencyKey, ReasonMissingIdempotencyKey); err != nil {
		return err
	}
	if qty < 1 || qty > MaxPurchaseQty {
		return &InvalidError{Field: "qty", Reason: ReasonInvalidQty, Detail: fmt.Sprintf("%d not in 1..%d", qty, MaxPurchaseQty)}
	}
	if bucket < 0 || bucket >= MaxSaleBuckets {
		return &InvalidError{Field: "bucket", Reason: ReasonInvalidBucket, Detail: fmt.Sprintf("%d not in 0..%d", bucket, MaxSaleBuckets-1)}
	}
	return nil
}
