package clickhouse

// Migrations are the schema's versions, oldest first.
//
// Every raw table holds one topic's records, ordered by where each was in Kafka (topic, partition,
// offset). The sink reads the highest offset a table holds for each partition when it is given the
// partition and after an insert that failed, and skips what the table already holds, so a record
// is inserted once and the materialized views, which see every insert, count it once. The tables
// are ReplacingMergeTree on that key as well, so that even a block written twice by two sinks that
// both believed they owned a partition counts once when read FINAL.
//
// The summaries are SummingMergeTree tables filled by materialized views as rows arrive; a query
// sums them again (GROUP BY), since rows of one key are merged only eventually.
var Migrations = []Migration{
	{Version: 1, Name: "inventory events", Statements: []string{`
CREATE TABLE IF NOT EXISTS inventory_events (
    topic String,
    partition Int32,
    offset Int64,
    type String,
    command_id String,
    order_id String,
    sku String,
    qty Int64,
    reason String,
    seq Int64,
    on_hand Int64,
    reserved Int64,
    sold Int64,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`}},
	{Version: 2, Name: "order, flash-sale, pricing, fraud and view events, and their summaries", Statements: []string{
		`
CREATE TABLE IF NOT EXISTS order_events (
    topic String,
    partition Int32,
    offset Int64,
    event_id String,
    order_id String,
    kind String,
    user_id String,
    currency String,
    lines UInt32,
    units Int64,
    amount_minor Int64,
    reason String,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS order_outcomes (
    topic String,
    partition Int32,
    offset Int64,
    event_id String,
    order_id String,
    status String,
    user_id String,
    currency String,
    total_minor Int64,
    units Int64,
    lines UInt32,
    review UInt8,
    review_reasons Array(String),
    reason String,
    detail String,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS order_lines (
    topic String,
    partition Int32,
    offset Int64,
    line UInt32,
    order_id String,
    sku String,
    qty Int64,
    unit_price_minor Int64,
    revenue_minor Int64,
    currency String,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset, line)`,
		`
CREATE TABLE IF NOT EXISTS saga_events (
    topic String,
    partition Int32,
    offset Int64,
    order_id String,
    kind String,
    sku String,
    line Int32,
    found UInt8,
    price_minor Int64,
    currency String,
    steps Int64,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS fraud_decisions (
    topic String,
    partition Int32,
    offset Int64,
    order_id String,
    user_id String,
    outcome String,
    score Float64,
    reasons Array(String),
    model_version String,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS fraud_decision_reasons (
    topic String,
    partition Int32,
    offset Int64,
    line UInt32,
    order_id String,
    outcome String,
    reason String,
    contribution Float64,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset, line)`,
		`
CREATE TABLE IF NOT EXISTS flashsale_sales (
    topic String,
    partition Int32,
    offset Int64,
    sale_id String,
    sku String,
    units Int64,
    price_minor Int64,
    per_user_limit Int64,
    buckets Int32,
    starts_at DateTime,
    ends_at DateTime,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS flashsale_results (
    topic String,
    partition Int32,
    offset Int64,
    sale_id String,
    idempotency_key String,
    user_id String,
    qty Int64,
    status String,
    reason String,
    bucket Int32,
    price_minor Int64,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS price_changes (
    topic String,
    partition Int32,
    offset Int64,
    sku String,
    currency String,
    base_minor Int64,
    price_minor Int64,
    cause String,
    version Int64,
    command_id String,
    rules Array(String),
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		`
CREATE TABLE IF NOT EXISTS recommendation_views (
    topic String,
    partition Int32,
    offset Int64,
    event_id String,
    user_id String,
    sku String,
    session_id String,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`,
		// GMV and orders per minute, by currency. A rejected order has no currency.
		`
CREATE TABLE IF NOT EXISTS orders_per_minute (
    minute DateTime,
    currency String,
    orders UInt64,
    confirmed UInt64,
    rejected UInt64,
    gmv_minor Int64,
    units Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, currency)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS orders_per_minute_mv TO orders_per_minute AS
SELECT
    toStartOfMinute(event_time) AS minute,
    currency,
    count() AS orders,
    countIf(status = 'confirmed') AS confirmed,
    countIf(status = 'rejected') AS rejected,
    sumIf(total_minor, status = 'confirmed') AS gmv_minor,
    sumIf(units, status = 'confirmed') AS units
FROM order_outcomes
GROUP BY minute, currency`,
		// Units and revenue per SKU and minute, for the top SKUs.
		`
CREATE TABLE IF NOT EXISTS sku_sales_per_minute (
    minute DateTime,
    sku String,
    currency String,
    orders UInt64,
    units Int64,
    revenue_minor Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, sku, currency)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS sku_sales_per_minute_mv TO sku_sales_per_minute AS
SELECT
    toStartOfMinute(event_time) AS minute,
    sku,
    currency,
    count() AS orders,
    sum(qty) AS units,
    sum(revenue_minor) AS revenue_minor
FROM order_lines
GROUP BY minute, sku, currency`,
		// A flash sale's purchases and refusals per minute; its sell-through is the running sum of
		// purchased units over the units of its definition in flashsale_sales.
		`
CREATE TABLE IF NOT EXISTS flashsale_per_minute (
    minute DateTime,
    sale_id String,
    purchases UInt64,
    purchased_units Int64,
    rejections UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, sale_id)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS flashsale_per_minute_mv TO flashsale_per_minute AS
SELECT
    toStartOfMinute(event_time) AS minute,
    sale_id,
    countIf(status = 'purchased') AS purchases,
    sumIf(qty, status = 'purchased') AS purchased_units,
    countIf(status = 'rejected') AS rejections
FROM flashsale_results
GROUP BY minute, sale_id`,
		// Reservations per minute and how they ended: conversion is committed over reserved, the
		// expiry rate expired over reserved.
		`
CREATE TABLE IF NOT EXISTS reservations_per_minute (
    minute DateTime,
    reserved UInt64,
    rejected UInt64,
    committed UInt64,
    released UInt64,
    expired UInt64,
    reserved_units Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY minute`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS reservations_per_minute_mv TO reservations_per_minute AS
SELECT
    toStartOfMinute(event_time) AS minute,
    countIf(type = 'reserved') AS reserved,
    countIf(type = 'rejected') AS rejected,
    countIf(type = 'committed') AS committed,
    countIf(type = 'released') AS released,
    countIf(type = 'expired') AS expired,
    sumIf(qty, type = 'reserved') AS reserved_units
FROM inventory_events
GROUP BY minute`,
		// A stock-out is a reservation that took a SKU's last available unit; a refusal is a
		// reservation refused for want of stock.
		`
CREATE TABLE IF NOT EXISTS stockouts_per_minute (
    minute DateTime,
    sku String,
    stockouts UInt64,
    refusals UInt64,
    refused_units Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, sku)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS stockouts_per_minute_mv TO stockouts_per_minute AS
SELECT
    toStartOfMinute(event_time) AS minute,
    sku,
    countIf(type = 'reserved' AND on_hand - reserved <= 0) AS stockouts,
    countIf(type = 'rejected' AND reason = 'insufficient_stock') AS refusals,
    sumIf(qty, type = 'rejected' AND reason = 'insufficient_stock') AS refused_units
FROM inventory_events
WHERE type IN ('reserved', 'rejected')
GROUP BY minute, sku`,
		// Fraud decisions per minute by outcome, and by the reasons they gave.
		`
CREATE TABLE IF NOT EXISTS fraud_per_minute (
    minute DateTime,
    outcome String,
    decisions UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, outcome)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS fraud_per_minute_mv TO fraud_per_minute AS
SELECT toStartOfMinute(event_time) AS minute, outcome, count() AS decisions
FROM fraud_decisions
GROUP BY minute, outcome`,
		`
CREATE TABLE IF NOT EXISTS fraud_reasons_per_minute (
    minute DateTime,
    outcome String,
    reason String,
    decisions UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, outcome, reason)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS fraud_reasons_per_minute_mv TO fraud_reasons_per_minute AS
SELECT toStartOfMinute(event_time) AS minute, outcome, reason, count() AS decisions
FROM fraud_decision_reasons
GROUP BY minute, outcome, reason`,
		// Price changes per SKU and minute.
		`
CREATE TABLE IF NOT EXISTS price_changes_per_minute (
    minute DateTime,
    sku String,
    changes UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, sku)`,
		`
CREATE MATERIALIZED VIEW IF NOT EXISTS price_changes_per_minute_mv TO price_changes_per_minute AS
SELECT toStartOfMinute(event_time) AS minute, sku, count() AS changes
FROM price_changes
GROUP BY minute, sku`,
	}},
}
