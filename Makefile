# Titan's two everyday commands are `make run` and `make test`; the rest
# are the steps they are made of.

GO        ?= go
KAFKA     := bash deploy/kafka/kafka.sh
CLUSTER   := bash deploy/kafka/cluster.sh
CLICKHOUSE := bash deploy/clickhouse/clickhouse.sh
# chDB (current ClickHouse in process) for the schema's compatibility tests, and the Kafka clients
# of other languages the partitioning tests send with (deploy/clients), in a venv of the project's own.
PYTHON    ?= python3
CHDB_VENV := .run/venv
CHDB_PYTHON := $(CURDIR)/$(CHDB_VENV)/bin/python
# The dashboard's browser test: Debian's chromium (installed with apt-get when missing), driven by
# the playwright-core of web/e2e; screenshots go to ARTIFACTS.
CHROMIUM  ?= /usr/bin/chromium
BROWSER_E2E := $(CURDIR)/web/e2e
ARTIFACTS ?= $(CURDIR)/.run/artifacts
# The Node SDK (sdk/node), installed with npm ci and built; the Go tests drive it against the broker.
NODE_SDK  := $(CURDIR)/sdk/node
GOTEST    := $(GO) test -count=1 -race
# Integration tests share one broker; running packages one at a time keeps
# a 2-core machine from timing out consumer-group rebalances.
TEST_FLAGS ?= -timeout 20m -p 1
# internal/failover needs the three-node cluster and runs on it after the
# others: named out here rather than left to skip, since under CI=true a
# missing cluster fails it.
PKGS       = $$($(GO) list ./... | grep -v /internal/failover)

.PHONY: run build chdb clients browser node-sdk test test-unit test-cluster failover-tests vet kafka-up kafka-down cluster-up cluster-down clickhouse-up clickhouse-down bench bench-long generate generate-check schema-baseline fuzz clean dashboard dashboard-check

## run: start Titan on the embedded in-memory broker, API on 127.0.0.1:8080
run:
	$(GO) run ./cmd/titan run --fraud-model processors/fraud/model.json

## build: the titan binary into bin/, its version (titan version) from git describe
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/titan ./cmd/titan

## test: every test: the packages against one Kafka broker and a ClickHouse server (installed with apt-get when missing), the dashboard in chromium among them, then the failover tests against three brokers; each stopped also on failure
test: vet chdb clients browser dashboard-check node-sdk
	@$(KAFKA) up
	@$(CLICKHOUSE) up || { $(KAFKA) down; exit 1; }
	@status=0; \
	TITAN_KAFKA_BROKERS=$$($(KAFKA) brokers) TITAN_CLICKHOUSE_ADDR=$$($(CLICKHOUSE) addr) TITAN_CHDB_PYTHON=$(CHDB_PYTHON) TITAN_CLIENTS_PYTHON=$(CHDB_PYTHON) \
	TITAN_CHROMIUM=$(CHROMIUM) TITAN_BROWSER_E2E_DIR=$(BROWSER_E2E) TITAN_ARTIFACTS=$(ARTIFACTS) TITAN_NODE_SDK_DIR=$(NODE_SDK) \
		$(GOTEST) $(TEST_FLAGS) $(PKGS) || status=$$?; \
	$(CLICKHOUSE) down; \
	$(KAFKA) down; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; fi; \
	exit $$status
	@$(MAKE) --no-print-directory failover-tests

## chdb: a venv under .run/venv with the chDB of deploy/chdb/requirements.txt; nothing to do when it is there
chdb: $(CHDB_VENV)/.chdb-installed

$(CHDB_VENV)/.chdb-installed: deploy/chdb/requirements.txt
	@test -x $(CHDB_PYTHON) || $(PYTHON) -m venv $(CHDB_VENV)
	@$(CHDB_PYTHON) -m pip install --quiet --disable-pip-version-check -r deploy/chdb/requirements.txt
	@$(CHDB_PYTHON) -c 'import chdb' && touch $@

## clients: confluent-kafka (librdkafka) of deploy/clients/requirements.txt in the same venv; nothing to do when it is there
clients: $(CHDB_VENV)/.clients-installed

$(CHDB_VENV)/.clients-installed: deploy/clients/requirements.txt
	@test -x $(CHDB_PYTHON) || $(PYTHON) -m venv $(CHDB_VENV)
	@$(CHDB_PYTHON) -m pip install --quiet --disable-pip-version-check -r deploy/clients/requirements.txt
	@$(CHDB_PYTHON) -c 'import confluent_kafka' && touch $@

## browser: Debian's chromium (apt-get, when CHROMIUM is missing) and web/e2e's playwright-core (npm ci, when its lock file changed)
browser: web/e2e/node_modules/.package-lock.json
	@test -x $(CHROMIUM) || { \
		echo "browser: installing Debian's chromium"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	}
	@test -x $(CHROMIUM) || { echo "browser: $(CHROMIUM) is missing and apt-get could not install chromium"; exit 1; }

# npm ci writes node_modules/.package-lock.json last; it is older than the lock file when that changed.
web/e2e/node_modules/.package-lock.json: web/e2e/package-lock.json web/e2e/package.json
	cd web/e2e && npm ci --no-audit --no-fund
	@touch $@

## node-sdk: sdk/node's npm packages (npm ci, when its lock file changed), the check that its generated code is what schemas/proto gives, its build and its unit tests (golden vectors, validation); its broker tests run from internal/instance
node-sdk: sdk/node/node_modules/.package-lock.json
	cd sdk/node && npm run --silent generate-check && npm test --silent

sdk/node/node_modules/.package-lock.json: sdk/node/package-lock.json sdk/node/package.json
	cd sdk/node && npm ci --no-audit --no-fund
	@touch $@

## test-unit: the tests that need no broker or server (Kafka and ClickHouse tests skip, or fail under CI=true)
test-unit:
	$(GOTEST) $(PKGS)

## test-cluster: the failover tests alone: start the three-node cluster, run them on it, stop it (also on failure)
test-cluster: vet failover-tests

# Without -race: what these tests exercise runs in `titan run` child
# processes, and the detector would only slow the load they drive on 2 cores.
failover-tests:
	@$(CLUSTER) up || { $(CLUSTER) down; exit 1; }
	@status=0; \
	TITAN_KAFKA_CLUSTER_BROKERS=$$($(CLUSTER) brokers) $(GO) test -count=1 -timeout 20m -v ./internal/failover/ || status=$$?; \
	$(CLUSTER) down; \
	if [ $$status -ne 0 ]; then echo "failover tests: FAILED"; fi; \
	exit $$status

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

kafka-up:
	@$(KAFKA) up

clickhouse-up:
	@$(CLICKHOUSE) up

clickhouse-down:
	@$(CLICKHOUSE) down

kafka-down:
	@$(KAFKA) down

cluster-up:
	@$(CLUSTER) up

cluster-down:
	@$(CLUSTER) down

## bench: benchmarks on a real broker, each beside its ceiling (see BENCHMARKS.md); the long run at 100,000 commands, the restore at 100,000 SKUs; then an item's pair and the price ticker's pass in process
bench:
	@$(KAFKA) up
	@status=0; \
	TITAN_KAFKA_BROKERS=$$($(KAFKA) brokers) TITAN_KAFKA_PID=$$($(KAFKA) pid) TITAN_BENCH_LONG_COMMANDS=$${TITAN_BENCH_LONG_COMMANDS:-100000} \
	TITAN_BENCH_RESTORE_SKUS=$${TITAN_BENCH_RESTORE_SKUS:-100000} \
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./internal/bench/ || status=$$?; \
	$(GO) test -run '^$$' -bench 'ItemPair' -benchtime 1x ./topologies/recommendationstopo/ || status=$$?; \
	$(GO) test -run '^$$' -bench 'TickerPass' -benchtime 100x ./topologies/pricingtopo/ || status=$$?; \
	$(KAFKA) down; \
	exit $$status

## bench-long: the state benchmarks alone: busy SKUs beside fresh ones, 1,000,000 commands beside their ceiling, and the restore of 1,000,000 SKUs
bench-long:
	@$(KAFKA) up
	@status=0; \
	TITAN_KAFKA_BROKERS=$$($(KAFKA) brokers) TITAN_KAFKA_PID=$$($(KAFKA) pid) \
	$(GO) test -run '^$$' -bench 'CommandsBusySKU|CommandsLong|Restore' -benchtime 1x -timeout 60m ./internal/bench/ || status=$$?; \
	$(KAFKA) down; \
	exit $$status

## generate: regenerate the protobuf Go code (needs protoc), then record additions in the schema baseline
generate:
	bash schemas/generate.sh
	@$(MAKE) --no-print-directory schema-baseline

## schema-baseline: record the compiled schema in schemas/compat/published.json; a breaking change is refused unless ACCEPT_BREAKING=1 (see DESIGN.md, "Schema evolution")
ACCEPT_BREAKING ?=
schema-baseline:
	$(GO) run ./schemas/compat/baseline -out schemas/compat/published.json $(if $(filter 1,$(ACCEPT_BREAKING)),-accept-breaking)

generate-check:
	bash schemas/generate.sh --check

## fuzz: run every fuzz target for FUZZTIME each
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## dashboard: rebuild the dashboard (web/dashboard) into api/dashboard, which the binary embeds; commit the result
dashboard:
	cd web/dashboard && npm ci --no-audit --no-fund && npm run build

## dashboard-check: fail when the committed api/dashboard is not what web/dashboard builds
dashboard-check:
	cd web/dashboard && npm ci --no-audit --no-fund && npm run check

clean:
	rm -rf bin .run
