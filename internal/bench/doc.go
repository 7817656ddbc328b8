// Package bench measures Titan on a real Kafka broker, each figure beside
// the ceiling that bounds it, taken in the same run.
//
// The machines that run `make bench` are small and shared, so an absolute
// figure says as much about the neighbours as about Titan. What carries
// from run to run is the ratio between a figure and its ceiling: the same
// load through the least machinery that could carry it (a bare Kafka
// produce and consume, a bare Pebble read behind a bare HTTP handler), on
// the same broker and the same cores, seconds apart. Each pair is two
// benchmarks whose names sort together:
//
//	BenchmarkCommands               commands/s through one processor instance
//	BenchmarkCommandsCeiling        the same records produced and read back
//	BenchmarkCommandsGoka           the same commands through goka with
//	                                nothing of Titan's in the callbacks,
//	                                writing Titan's records, and one of
//	                                each: the floor between the two
//	BenchmarkCommandsBusySKU        commands/s on SKUs holding 100 open
//	                                reservations and 4,000 remembered
//	                                results, beside fresh SKUs (its ceiling)
//	BenchmarkCommandsLong           the rate of each tenth of 1,000,000
//	                                commands over 1,000 SKUs, peak memory,
//	                                and the state on disk at the end
//	BenchmarkCommandsLongCeiling    the same records produced and read back
//	BenchmarkRestore                a fresh instance's time to ready on a
//	                                table of 1,000,000 SKUs, beside a raw
//	                                read of the same changelog, and its
//	                                CPU when idle afterwards
//	BenchmarkGetStock               GET /v1/inventory/{sku}, closed loop
//	BenchmarkGetStockCeiling        a fasthttp handler over a bare Pebble read
//	BenchmarkReserveLatency         POST .../reservations at 200 and 1,000/s
//	BenchmarkReserveLatencyCeiling  one produce and its read-back, same rate
//	BenchmarkFlashSalePurchases     purchases/s: one hot SKU with 1 and 8
//	                                buckets, and 1,000 SKUs
//	BenchmarkFlashSalePurchasesCeiling  the same records produced and read back
//	BenchmarkFlashSalePurchaseLatency   POST .../purchases at a fixed rate
//	BenchmarkFlashSalePurchaseLatencyCeiling  one produce and its read-back
//	BenchmarkFlashSaleSoldOut       rejected attempts after sell-out, beside
//	                                GET /v1/inventory/{sku} in the same run
//	BenchmarkOrders                 orders/s through the whole saga (fraud,
//	                                pricing, inventory) on one instance
//	BenchmarkOrdersCeiling          as many records as those orders write,
//	                                produced and read back
//	BenchmarkOrderLatency           OrderPlaced to its outcome, at 50 and 200/s
//	BenchmarkOrderLatencyCeiling    one produce and its read-back, same rate
//	BenchmarkFraudMemory            the fraud table per 100,000 users for a
//	                                day (no broker), beside its counters alone
//	BenchmarkRecommendationEvents   view events/s through the recommendations
//	                                (users, pairs, items) on one instance
//	BenchmarkRecommendationEventsCeiling  the same views and their pairs
//	                                produced and read back
//	BenchmarkItemPair               one pair on an item of 5 neighbors and
//	                                one of 200 (no broker)
//	BenchmarkRecommendationState    the items table per 100,000 items for a
//	                                week of views (no broker), beside one
//	                                score per neighbor
//	BenchmarkGetRecommendations     GET /v1/recommendations/items/{sku}?k=10,
//	                                closed loop
//	BenchmarkGetRecommendationsCeiling  a fasthttp handler over a bare
//	                                Pebble read of the same item states
//
// The broker benchmarks run a fixed workload per iteration and are meant
// for -benchtime 1x; without TITAN_KAFKA_BROKERS they skip (see
// kafkatest.Brokers). The in-process micro-benchmarks (BenchmarkDecide,
// BenchmarkStateCodecEncode and Decode) need no broker and time a batch of
// calls per iteration, so they mean something at 1x too; so do
// BenchmarkFraudMemory, which replays a whole day per iteration, and
// BenchmarkRecommendationState, a whole week.
//
// BenchmarkCommandsLong runs TITAN_BENCH_LONG_COMMANDS commands (default
// 1,000,000), and so does its ceiling. `make bench` sets it to 100,000,
// which keeps the whole run within minutes and still shows a state that
// grows; `make bench-long` runs the two state benchmarks alone,
// BenchmarkCommandsBusySKU and the long pair at the full count, with a
// timeout of an hour. The long run prints each window's rate as it ends,
// so a run stopped early still says how far it got.
//
// The package itself holds the load generators (OpenLoop, ClosedLoop) and
// the latency summary; the benchmarks are in its _test files, and
// BENCHMARKS.md at the repository root records a run and reads it.
package bench
