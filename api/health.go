package api

// ComponentStatus is what /readyz says of one part of the instance that is
// not ready: a topology's processors, a view, a results consumer.
type ComponentStatus struct {
	Name string `json:"name"`
	// State is "recovering" (starting, or catching up with its state) or
	// "failed" (stopped by a failure, to be started again).
	State string `json:"state"`
	// Error is the last failure, kept while the part recovers after it;
	// empty if it never failed.
	Error string `json:"error,omitempty"`
	// Failures counts the part's failures since the instance started.
	Failures int `json:"failures"`
}

// notReady is the 503 of /readyz: the error, and what is not ready.
type notReady struct {
	apiError
	Components []ComponentStatus `json:"components,omitempty"`
}
