# Sluice: the two README commands, and the longer runs behind their own targets.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080
DEMO := .build/release/sluice-demo
# The C build (libsluice, C demo, C tests); make test builds it with ASan and UBSan.
CBUILD ?= build
C_DEMO := $(CBUILD)/sluice-c-demo
LIBSLUICE := $(CBUILD)/lib/libsluice.so.0

.PHONY: run test build test-swift c-build test-c test-integration test-tsan bench clean

run: ## Build in release mode and start the Swift demo on $(HOST):$(PORT)
	@scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product sluice-demo
	exec $(DEMO) --host $(HOST) --port $(PORT)

build:
	@scripts/ensure-deps.sh build
	$(SWIFT) build -c release --product sluice-demo

test: ## Every test: Swift, C (CTest under ASan+UBSan), and the cross-language suite on both demos
	@scripts/ensure-deps.sh test
	$(MAKE) test-swift
	$(MAKE) test-c
	$(MAKE) test-integration

test-swift:
	$(SWIFT) test

c-build:
	cmake -S . -B $(CBUILD) -G Ninja -DSLUICE_SANITIZE=ON
	cmake --build $(CBUILD)

test-c: c-build
	ctest --test-dir $(CBUILD) --output-on-failure

test-integration: build c-build
	python3 -m pytest -q Tests/integration --demo $(abspath $(DEMO)) --demo $(abspath $(C_DEMO)) \
		--libsluice $(abspath $(LIBSLUICE))

test-tsan: ## The Swift tests under ThreadSanitizer
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan

bench: ## wrk against the Swift demo and a node http server, side by side
	@scripts/ensure-deps.sh bench
	$(SWIFT) build -c release --product sluice-demo
	Benchmarks/bench.sh $(abspath $(DEMO))

clean:
	rm -rf .build .build-tsan $(CBUILD)
