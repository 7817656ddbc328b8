// Package grafana holds no code: it is the home of Titan's Grafana dashboard and the test that
// keeps it working.
//
// titan-commerce.json is a dashboard over the summary tables of sinks/clickhouse/schema.go, read
// through the official ClickHouse data source plugin (grafana-clickhouse-datasource): GMV and
// orders per minute by currency, flash-sale sell-through, reservation conversion and expiry,
// fraud decisions by outcome and by reason, price changes per SKU, the top SKUs by units and by
// revenue, and stock-outs. Its data source is the template variable ${datasource}; every panel's
// query is raw SQL using the plugin's macros ($__timeFilter, $__interval_s, $__fromTime,
// $__toTime; not $__timeInterval, whose toStartOfInterval 18.16 lacks) and sums the summaries again per key, since SummingMergeTree merges rows only
// eventually.
//
// provisioning/ has the files Grafana reads at start: datasources/clickhouse.yaml (the server,
// from environment variables) and dashboards/titan.yaml (load the dashboards from
// /var/lib/grafana/dashboards/titan, where this folder's JSON goes).
//
// The test checks the dashboard's structure, expands the macros as the plugin does for a time
// range around the sample rows of internal/schematest, and runs every panel's query on ClickHouse
// 18.16 and on current ClickHouse (chDB), each over the migrated schema and the same samples.
package grafana
