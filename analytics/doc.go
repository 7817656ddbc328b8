// Package analytics answers the dashboard's questions from ClickHouse: orders and GMV per minute,
// flash-sale sell-through, how reservations end, fraud decisions and their reasons, price changes,
// the best-selling SKUs and stock-outs, each over a Window of at most seven days.
//
// The numbers come from the summary tables that sinks/clickhouse's materialized views fill as
// rows arrive (orders_per_minute, flashsale_per_minute, ...), summed again with GROUP BY since a
// SummingMergeTree merges the rows of one key only eventually; where a view needs a definition or
// a last value (a flash sale's units, a SKU's last price), it reads the raw table with argMax, which
// a row inserted twice does not change.
//
// The statements are built here as text, by pure functions of the Window and a few validated
// parameters, and every one is listed by Queries so that a test can run each on another version
// of ClickHouse. They must run on Debian's 18.16 as well as on a current server, which rules out
// server-side parameters: a statement holds only integers this package formats itself (the window
// as Unix seconds, a limit) and SQL fixed in the source; no client string reaches it.
//
// A minute belongs to a window when it starts inside [from, to): the summaries are per minute, so
// a window's first partial minute is left out and its last one is in. Minutes without any row are
// left out of the per-minute series; a chart fills them.
package analytics
