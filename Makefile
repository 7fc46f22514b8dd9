# Sluice: the two README commands, and the longer runs behind their own targets.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080
DEMO := .build/release/sluice-demo
# The C build (libsluice, C demo, C tests); make test builds it with ASan and UBSan.
CBUILD ?= build
C_DEMO := $(CBUILD)/sluice-c-demo
LIBSLUICE := $(CBUILD)/lib/libsluice.so.0

.PHONY: run test build lib test-swift c-build test-c test-integration test-tsan test-asan test-asan-swift fuzz soak overload rolling c-build-plain bench bench-micro bench-peers bench-shared clean

# Release builds link the Swift runtime statically, as Swift servers are deployed (Vapor's and
# Hummingbird's templates do): 1.6 MiB less resident memory, the same speed. Every release
# build of .build uses the same flags, or each would rebuild everything.
RELEASE := -c release --static-swift-stdlib

run: ## Build in release mode and start the Swift demo on $(HOST):$(PORT)
	@scripts/ensure-deps.sh build
	$(SWIFT) build $(RELEASE) --product sluice-demo
	exec $(DEMO) --host $(HOST) --port $(PORT)

build:
	@scripts/ensure-deps.sh build
	$(SWIFT) build $(RELEASE) --product sluice-demo

test: ## Every test: Swift (plain, TSan, ASan), C (CTest under ASan+UBSan), fuzzing (short), and the cross-language suite on both demos
	@scripts/ensure-deps.sh test
	$(MAKE) test-swift
	$(MAKE) test-c
	$(MAKE) test-integration
	$(MAKE) test-tsan
	$(MAKE) test-asan-swift
	$(MAKE) fuzz FUZZ_SECONDS=20
	$(MAKE) soak SOAK_REQUESTS=30000 SOAK_C_DEMO=$(C_DEMO) SOAK_C_FLAGS=--skip-memory-check
	$(MAKE) overload OVERLOAD_FLAGS="--short --report $(abspath .build-overload/report)"
	$(MAKE) rolling ROLLING_SECONDS=6

test-swift:
	$(SWIFT) test

c-build:
	cmake -S . -B $(CBUILD) -G Ninja -DSLUICE_SANITIZE=ON
	cmake --build $(CBUILD)

test-c: c-build
	ctest --test-dir $(CBUILD) --output-on-failure

test-integration: build c-build
	# ASan holds freed memory in a quarantine (256 MiB by default), which the memory bounds of the
	# streaming tests would count as the server's.
	ASAN_OPTIONS=quarantine_size_mb=16 python3 -m pytest -q Tests/integration --demo $(abspath $(DEMO)) --demo $(abspath $(C_DEMO)) \
		--libsluice $(abspath $(LIBSLUICE))

test-tsan: ## The Swift tests under ThreadSanitizer
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan

test-asan: test-c test-asan-swift ## C tests and C demo under ASan+UBSan, and the Swift tests (with the C shim) under ASan

test-asan-swift:
	ASAN_OPTIONS=quarantine_size_mb=16 LSAN_OPTIONS=suppressions=$(abspath Tests/lsan.supp) \
		$(SWIFT) test --sanitize=address --scratch-path .build-asan

lib: ## libsluice.so through SwiftPM alone, exporting exactly the header's functions
	@scripts/ensure-deps.sh build
	$(SWIFT) build -c release --scratch-path .build-lib --product sluice -Xswiftc -static-stdlib \
		-Xlinker -soname -Xlinker libsluice.so.0 \
		-Xlinker --version-script=$(abspath cmake/sluice.map)

FUZZ_SECONDS ?= 60
FUZZ_DIR := .build-fuzz
# The parser and chunked decoder alone, as the fuzzer and the parser micro-benchmark build them.
PARSER_SOURCES := $(addprefix Sources/CSluiceIO/,http_parser.c http_framing.c http_chunked.c http_chars.c http_errors.c)
FUZZ_SOURCES := Tests/fuzz/fuzz_parser.c $(PARSER_SOURCES)

$(FUZZ_DIR)/fuzz_parser: $(FUZZ_SOURCES) Sources/CSluiceIO/include/sluice_http_parser.h
	@mkdir -p $(FUZZ_DIR)/corpus
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-ISources/CSluiceIO/include -ISources/CSluiceIO $(FUZZ_SOURCES) -o $@ 2>&1 | grep -v 'Cannot export' || true
	@test -x $@

$(FUZZ_DIR)/fuzz_connection: Tests/fuzz/fuzz_connection.c $(wildcard Sources/CSluiceIO/*.c Sources/CSluiceIO/*.h)
	@mkdir -p $(FUZZ_DIR)/corpus-connection
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
		-ISources/CSluiceIO/include -ISources/CSluiceIO $$(pkg-config --cflags libuv) Tests/fuzz/fuzz_connection.c \
		Sources/CSluiceIO/*.c $$(pkg-config --libs libuv) -lpthread -o $@ 2>&1 | grep -v 'Cannot export' || true
	@test -x $@

fuzz: $(FUZZ_DIR)/fuzz_parser $(FUZZ_DIR)/fuzz_connection ## libFuzzer on the parser, then on whole connections, FUZZ_SECONDS each (default 60)
	$(FUZZ_DIR)/fuzz_parser -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -print_final_stats=1 \
		$(FUZZ_DIR)/corpus Tests/fuzz/corpus/parser
	$(FUZZ_DIR)/fuzz_connection -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
		$(FUZZ_DIR)/corpus-connection Tests/fuzz/corpus/connection

# Long runs use a C build without sanitizers: ASan's allocator quarantine inflates memory.
PLAIN_CBUILD ?= build-plain
c-build-plain:
	cmake -S . -B $(PLAIN_CBUILD) -G Ninja -DSLUICE_BUILD_TESTS=OFF
	cmake --build $(PLAIN_CBUILD)

SOAK_REQUESTS ?= 1000000
SOAK_C_DEMO ?= $(PLAIN_CBUILD)/sluice-c-demo
SOAK_C_FLAGS ?=
soak: build ## A mixed run of SOAK_REQUESTS (1,000,000) requests against each demo, then leak checks
	@scripts/ensure-deps.sh bench
	@if [ "$(SOAK_C_DEMO)" = "$(PLAIN_CBUILD)/sluice-c-demo" ]; then $(MAKE) c-build-plain; fi
	python3 Benchmarks/soak/soak.py $(abspath $(DEMO)) --requests $(SOAK_REQUESTS)
	python3 Benchmarks/soak/soak.py $(abspath $(SOAK_C_DEMO)) --requests $(SOAK_REQUESTS) $(SOAK_C_FLAGS)

OVERLOAD_FLAGS ?=
LOADGEN := .build-overload/loadgen
$(LOADGEN): Benchmarks/overload/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< $$(pkg-config --cflags --libs libuv)

overload: build $(LOADGEN) ## Overload scenarios (step, slowdown, mix), adaptive vs fixed limit: report and plots
	python3 Benchmarks/overload/overload.py $(abspath $(DEMO)) $(abspath $(LOADGEN)) $(OVERLOAD_FLAGS)

ROLLING_SECONDS ?= 30
rolling: build ## Two demos behind HAProxy under load, restarted in turn with drain: failed requests (target 0)
	@scripts/ensure-deps.sh test
	python3 Benchmarks/rolling/rolling.py $(abspath $(DEMO)) --seconds $(ROLLING_SECONDS)

bench: bench-micro ## The micro-benchmarks, then wrk against the Swift demo and a node http server, side by side
	@scripts/ensure-deps.sh bench
	$(SWIFT) build $(RELEASE) --product sluice-demo
	Benchmarks/bench.sh $(abspath $(DEMO))

# The parser alone must keep at least this many requests/s on its request set (make bench
# fails below it). This machine measured 2.1-3.1 million on 2026-11-27 (its speed varies
# by about 25%): the floor catches a parser that got twice as slow, not a slow spell.
PARSER_FLOOR ?= 1000000
MICRO_DIR := .build-micro

$(MICRO_DIR)/parser_bench: Benchmarks/micro/parser_bench.c $(PARSER_SOURCES) Sources/CSluiceIO/include/sluice_http_parser.h
	@mkdir -p $(MICRO_DIR)
	cc -std=gnu11 -O2 -ISources/CSluiceIO/include -ISources/CSluiceIO Benchmarks/micro/parser_bench.c $(PARSER_SOURCES) -o $@

bench-micro: $(MICRO_DIR)/parser_bench ## The parser (with its floor), the gate and a request through the engine
	taskset -c 0 $(MICRO_DIR)/parser_bench --min-requests-per-second $(PARSER_FLOOR)
	$(SWIFT) build $(RELEASE) --product SluiceMicroBench
	.build/release/SluiceMicroBench

PEERS_VENV ?= .build-peers/venv
HUMMINGBIRD := Benchmarks/hello-hummingbird/.build/release/HelloHummingbird
bench-peers: build c-build-plain ## Sluice three ways against nginx, node, Hummingbird 2 and uvicorn, side by side
	@scripts/ensure-deps.sh bench
	@command -v nginx >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	test -x $(PEERS_VENV)/bin/uvicorn || (python3 -m venv $(PEERS_VENV) && \
		$(PEERS_VENV)/bin/pip install -q fastapi uvicorn uvloop httptools starlette)
	$(SWIFT) build $(RELEASE) --package-path Benchmarks/hello-hummingbird
	python3 Benchmarks/peers.py --swift-demo $(abspath $(DEMO)) --c-demo $(abspath $(PLAIN_CBUILD)/sluice-c-demo) \
		--hummingbird $(abspath $(HUMMINGBIRD)) --venv $(abspath $(PEERS_VENV))

bench-shared: build c-build-plain ## CPU per request on one shared core, at once: Swift demo vs nginx, node, Hummingbird and the C demo
	@scripts/ensure-deps.sh bench
	@command -v nginx >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	$(SWIFT) build $(RELEASE) --package-path Benchmarks/hello-hummingbird
	python3 Benchmarks/shared_core.py $(abspath $(DEMO)) nginx
	python3 Benchmarks/shared_core.py $(abspath $(DEMO)) node
	python3 Benchmarks/shared_core.py $(abspath $(DEMO)) hummingbird
	python3 Benchmarks/shared_core.py $(abspath $(DEMO)) $(abspath $(PLAIN_CBUILD)/sluice-c-demo)

clean:
	rm -rf .build .build-tsan .build-asan .build-fuzz .build-micro .build-peers $(CBUILD) $(PLAIN_CBUILD)
