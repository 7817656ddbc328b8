# Titan's two everyday commands are `make run` and `make test`; the rest
# are the steps they are made of.

GO        ?= go
KAFKA     := bash deploy/kafka/kafka.sh
GOTEST    := $(GO) test -count=1 -race
# Integration tests share one broker; running packages one at a time keeps
# a 2-core machine from timing out consumer-group rebalances.
TEST_FLAGS ?= -timeout 20m -p 1

.PHONY: run build test test-unit vet kafka-up kafka-down bench generate generate-check fuzz clean

## run: start Titan on the embedded in-memory broker, API on 127.0.0.1:8080
run:
	$(GO) run ./cmd/titan run --fraud-model deploy/fraud/model.json

## build: the titan binary into bin/
build:
	$(GO) build -o bin/titan ./cmd/titan

## test: start Kafka, run every test against it, stop Kafka (also on failure)
test: vet
	@$(KAFKA) up
	@status=0; \
	TITAN_KAFKA_BROKERS=$$($(KAFKA) brokers) $(GOTEST) $(TEST_FLAGS) ./... || status=$$?; \
	$(KAFKA) down; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; fi; \
	exit $$status

## test-unit: the tests that need no broker (Kafka tests skip, or fail under CI=true)
test-unit:
	$(GOTEST) ./...

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

kafka-up:
	@$(KAFKA) up

kafka-down:
	@$(KAFKA) down

## bench: benchmarks on a real broker, each beside its ceiling (see BENCHMARKS.md)
bench:
	@$(KAFKA) up
	@status=0; \
	TITAN_KAFKA_BROKERS=$$($(KAFKA) brokers) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./internal/bench/ || status=$$?; \
	$(KAFKA) down; \
	exit $$status

## generate: regenerate the protobuf Go code (needs protoc)
generate:
	bash schemas/generate.sh

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

clean:
	rm -rf bin .run
