// Package sinks holds the writers that copy Titan's event streams into
// analytics stores. sinks/clickhouse holds the connection they keep to
// ClickHouse, and the rules a statement follows to run on the old server
// the tests use as well as on a current one.
package sinks
