package api

// ComponentStatus is what /readyz says of one part of the instance: a
// topology's processors, a view, a results consumer.
type ComponentStatus struct {
	Name string `json:"name"`
	// State is "running" (running and caught up), "recovering" (starting,
	// or catching up with its state) or "failed" (stopped by a failure, to
	// be started again).
	State string `json:"state"`
	// Error is the last failure, kept while the part recovers after it;
	// empty if it never failed.
	Error string `json:"error,omitempty"`
	// Failures counts the part's failures since the instance started.
	Failures int `json:"failures"`
	// Tables says how far each table the part holds has come: what a
	// recovering part waits for.
	Tables []TableStatus `json:"tables,omitempty"`
}

// TableStatus is how far one table of a component has come: a processor
// group's table, or the table a view copies.
type TableStatus struct {
	// Group is the processor's consumer group; empty for a view.
	Group string `json:"group,omitempty"`
	Table string `json:"table"`
	// PartitionsRestored of PartitionsTotal have caught up with their
	// changelog. A processor holds the partitions its group assigned it,
	// none while it waits to join; a view holds them all.
	PartitionsRestored int `json:"partitions_restored"`
	PartitionsTotal    int `json:"partitions_total"`
	// RecordsBehind is how many changelog records the partitions held had
	// not applied at the last look-up (about every 250 ms).
	RecordsBehind int64 `json:"records_behind"`
}

// readyBody is the 200 of /readyz.
type readyBody struct {
	Status     string            `json:"status"`
	Components []ComponentStatus `json:"components,omitempty"`
}

// notReady is the 503 of /readyz: the error, and what it waits for.
type notReady struct {
	apiError
	Components []ComponentStatus `json:"components,omitempty"`
}
