// Package failover tests Titan on a replicated Kafka cluster while parts of it die: the three-node
// cluster of deploy/kafka/cluster.sh (replication 3, min.insync.replicas 2) under three `titan run`
// processes, with a steady load of inventory commands and flash-sale purchases, through
//
//   - the kill -9 of one broker and its restart, which no instance may exit or stop serving for;
//   - the kill -9 of the broker that leads the flash sale's partition while the sale sells out;
//   - the kill -9 of an instance, and of an instance and a broker at the same moment.
//
// Through each, every live instance answers every probe with 200. After each, every command has
// exactly one result (copies of it, republished after a takeover, are allowed, and must be
// identical), each SKU's events chain by sequence number into one ledger with nothing lost or
// applied twice, every ledger balances, and the sale sold exactly its units and settled them. The
// same tests time each failover: from the last result a partition's old owner published to the
// first its successor did (see BENCHMARKS.md, "Failover"). The figures are logged; they never
// decide whether a test passes.
//
// The package has no code but its tests; `make test` starts the cluster and runs them after the
// single-broker packages, and `make test-cluster` runs them alone.
package failover
