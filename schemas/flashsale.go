package schemas

// The reasons a flash-sale purchase is dead-lettered for besides the shared
// ones (topologies/flashsale checks a client's purchase with the id rule,
// CheckClientID, and the time window).
const (
	ReasonMissingSaleID         Reason = "missing_sale_id"
	ReasonMissingIdempotencyKey Reason = "missing_idempotency_key"
	// ReasonInvalidBucket: the bucket a purchase names is not one a sale
	// can have.
	ReasonInvalidBucket Reason = "invalid_bucket"
)
