// Package api is Titan's HTTP API: it reads state from the local replicas
// of the goka tables and turns requests into commands on Kafka topics,
// waiting (bounded) for their results. openapi.yaml describes it, and
// tests keep that document, the routes and the error catalogue in step.
//
// A request meets, in this order: fasthttp's transport limits, answered by
// transportError (transport.go: timeouts, oversized request lines, header
// blocks and bodies); the router (routes.go: 404, 405 with Allow, OPTIONS);
// the gates of Access (access.go: allowed hosts, bearer tokens with scopes
// from a tokens file, tokens.go; JSON-only commands); and then the
// endpoint, in a file per part of Titan (inventory.go, flashsale.go,
// orders.go, prices.go, fraud.go, recommendations.go, views.go), which
// reads its body through decodeJSON (decode.go: an error names the field
// by its path and the type it takes) and validates the request against
// the schemas before anything is sent. The analytics views
// (analytics.go) read ClickHouse through Deps.Analytics instead, each under
// a deadline of its own, and dashboard.go serves the page that charts them. Every refusal is
// an entry of the catalogue in errors.go, as JSON with a stable code.
//
// A command waits for its result in one of three bounded maps of pending
// requests (pending.go), one per results consumer; when its map is full, or
// the producer it goes through has its buffer full, it is shed with 429
// overloaded and Retry-After before anything is sent. A read from a table
// that knows its freshness (Freshness) carries Titan-View-Lag and
// Titan-View-Age-Ms.
package api
