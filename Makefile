# Sluice: the two README commands, and the longer runs behind their own targets.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080
DEMO := .build/release/sluice-demo

.PHONY: run test build deps test-swift test-integration bench clean

run: ## Build in release mode and start the Swift demo on $(HOST):$(PORT)
	@scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product sluice-demo
	exec $(DEMO) --host $(HOST) --port $(PORT)

build:
	@scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product sluice-demo

test: ## Every test: Swift (parser tables, engine, sockets) and the integration suite
	@scripts/ensure-deps.sh test
	$(MAKE) test-swift
	$(MAKE) test-integration

test-swift:
	$(SWIFT) test

test-integration: build
	python3 -m pytest -q Tests/integration --demo $(abspath $(DEMO))

bench: ## wrk against the Swift demo and a node http server, side by side
	@scripts/ensure-deps.sh bench
	$(SWIFT) build -c release --product sluice-demo
	Benchmarks/bench.sh $(abspath $(DEMO))

clean:
	rm -rf .build build
