# Every target runs across all modules of the workspace (go.work).
MODULES  := pkg services/intake services/calculator services/hotspot services/engagement services/reporting gateway cmd/vcci
PKGS     := $(foreach m,$(MODULES),./$(m)/...)
DEPLOYS  := intake calculator hotspot engagement reporting
BIN      := $(CURDIR)/bin
REDOCLY  := tools/redocly/node_modules/.package-lock.json
TOOLS    := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2 $(BIN)/ghz
GOLANGCI := $(BIN)/golangci-lint
# LINT_ISSUES_EXIT: golangci-lint's exit code when it finds issues; 0 reports them without failing
LINT_ISSUES_EXIT ?= 1
ROWS     ?= 1000000
# BENCH_API_ARGS: flags for bench-api, e.g. "-rows 100000 -duration 10s -vus 200" for a quick run
BENCH_API_ARGS ?=

.PHONY: report-pages run test test-memory test-faults fuzz fuzz-short bench bench-e2e bench-e2e-mix bench-guard bench-api build generate lint lint-api check-generate tools deploy-check tidy

## run: the whole platform on the embedded default (no setup needed)
run:
	go run ./cmd/vcci run

## test: every module's tests, with the race detector, against the local PostgreSQL and Redis
test:
	go test -race -shuffle=on -count=1 -timeout 15m $(PKGS)

## test-memory: validation's peak memory on hostile files, without the race detector (FULL=1: full sizes)
test-memory:
	VCCI_MEMORY_FULL=$(FULL) go test -count=1 -timeout 30m -run '^TestValidationMemoryIsBounded$$' -v ./services/intake/internal/intake/

## test-faults: break one thing at a time (a killed or stopped service, a PostgreSQL restart, Redis
## down) with every deployable its own process on a private PostgreSQL and Redis, and print a table
## (docs/reliability.md); reduced sizes, FAULTS_FULL=1 for 1M-line uploads and 2 minutes of calculator down
test-faults: build
	go test -tags faults -v -count=1 -timeout 60m -run TestFaults ./cmd/vcci/faults/

# Fuzz targets as package:Target:N; go test -fuzz runs one target of one package at a time.
# N is the target's run count in CI, about 5 s of this machine: a count, not a duration,
# because go1.26's fuzzer may fail a duration's run with a bare "context deadline
# exceeded" when it ends (go.dev/issue/75804, fixed in go1.27).
FUZZ_TARGETS := ./pkg/decimal:FuzzParseScaled:80000 ./pkg/pagetoken:FuzzDecode:150000 ./pkg/pagetoken:FuzzRoundTrip:60000 ./pkg/fieldmask:FuzzParse:20000 \
	./services/intake/internal/intake:FuzzValidate:15000 ./services/intake/internal/intake:FuzzValidateJSONL:20000 ./services/intake/internal/intake:FuzzRecordLimiter:3000 \
	./services/intake/internal/directory/store:FuzzListSQL:4000 \
	./services/intake/internal/directory/grpcapi:FuzzListSuppliers:3000 ./services/intake/internal/directory/grpcapi:FuzzListTransactions:8000 \
	./services/calculator/internal/grpcapi:FuzzParseFilter:30000
FUZZTIME         ?= 10m
FUZZMINIMIZETIME ?= 10s
FUZZPARALLEL     ?= 1

## fuzz: every fuzz target for FUZZTIME each (default 10m; FUZZTIME=count runs each target's
## CI count), FUZZPARALLEL workers (default 1); a failing input is written to the package's
## testdata/fuzz/<Target>/
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$${t##*:}; t=$${t%:*}; ft=$(FUZZTIME); [ "$$ft" = count ] && ft=$${n}x; \
		echo "== $${t#*:} ($${t%%:*}) for $$ft"; \
		go test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $$ft -fuzzminimizetime $(FUZZMINIMIZETIME) \
			-parallel $(FUZZPARALLEL) $${t%%:*}; \
	done

## fuzz-short: every fuzz target for its CI count of runs, about 5 seconds each
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=count FUZZMINIMIZETIME=2s

## bench: the Go benchmarks of every module
bench:
	go test -run '^$$' -bench . -benchmem $(PKGS)

## bench-e2e: ROWS (default 1,000,000) spend lines through the REST gateway, each service its own process
bench-e2e: build
	go run ./cmd/vcci bench-e2e -rows $(ROWS) -bin $(BIN)

## bench-e2e-mix: bench-e2e with ROWS USD-only spend lines, then ROWS mixed lines (60% spend in six currencies, 40% activity),
## each on fresh processes and a fresh database; prints the mixed/USD ratio, failing over MIX_RATIO when it is set
MIX_RATIO ?= 0
bench-e2e-mix: build
	go run ./cmd/vcci bench-e2e -mix -rows $(ROWS) -bin $(BIN) -max-mix-ratio $(MIX_RATIO)

## bench-guard: bench-e2e at 100,000 lines, failing when end to end takes over GUARD_RATIO times the same run's \copy (CI).
## The goal is 10; docs/benchmarks.md has where the code stands.
GUARD_RATIO ?= 25
bench-guard: build
	go run ./cmd/vcci bench-e2e -rows 100000 -bin $(BIN) -db vcci_bench_guard -max-ratio $(GUARD_RATIO)

## bench-api: the design's user model (1,000 users, one request in 20 a report), ghz at every service's read RPCs and a 1,000-VU closed-loop REST mix through the gateway, against ceilings; results in .bench/bench-api.{md,json}
bench-api: build $(BIN)/ghz
	$(BIN)/vcci bench-api -bin $(BIN) -ghz $(BIN)/ghz -configs bench/ghz $(BENCH_API_ARGS)

## report-pages: one page of each report kind's PDF into docs/reports/ (the platform on a database of its own; poppler-utils)
report-pages: build
	tools/report-pages.sh

## build: one binary per deployable into bin/
build:
	@mkdir -p $(BIN)
	$(foreach d,$(DEPLOYS),go build -trimpath -o $(BIN)/$(d) ./services/$(d) &&) true
	go build -trimpath -o $(BIN)/gateway ./gateway
	go build -trimpath -o $(BIN)/vcci ./cmd/vcci

## tools: buf, the protoc plugins and ghz (tools/go.mod) and golangci-lint (tools/lint/go.mod), at their pinned versions
tools: $(TOOLS) $(GOLANGCI)
$(TOOLS): tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	cd tools && GOWORK=off go build -o $(BIN)/ tool
# A module of its own: its requirements would raise protobuf and grpc under buf and the plugins.
$(GOLANGCI): tools/lint/go.mod tools/lint/go.sum
	@mkdir -p $(BIN)
	cd tools/lint && GOWORK=off go build -o $(BIN)/ tool

## generate: Go code and the OpenAPI document from proto/
generate: $(TOOLS)
	$(BIN)/buf generate

## lint: buf lint, go vet, gofmt, and golangci-lint with .golangci.yaml over every module
lint: $(TOOLS) $(GOLANGCI)
	$(BIN)/buf lint
	go vet -tags faults $(PKGS)
	@test -z "$$(gofmt -l $(MODULES))" || (gofmt -l $(MODULES); echo "gofmt needed"; exit 1)
	$(GOLANGCI) run --build-tags faults --issues-exit-code=$(LINT_ISSUES_EXIT) $(PKGS)

## lint-api: the OpenAPI document the gateway serves, against Redocly's rules (tools/redocly/redocly.yaml)
lint-api: $(REDOCLY)
	@mkdir -p $(BIN)
	go run ./gateway/openapi/dump $(BIN)/openapi.json
	cd tools/redocly && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		./node_modules/.bin/redocly lint --config redocly.yaml --format stylish $(BIN)/openapi.json

# Redocly CLI at the version package-lock.json pins, installed again when it changes.
$(REDOCLY): tools/redocly/package.json tools/redocly/package-lock.json
	cd tools/redocly && npm ci --no-audit --no-fund
	@touch $@

## check-generate: generated code and go.work are in step with their sources
check-generate: generate
	go work sync
	git diff --exit-code -- pkg/gen gateway/openapi $(foreach m,$(MODULES),$(m)/go.mod)

## deploy-check: validate docker-compose.yml and deploy/ offline (Prometheus rules and their tests with Debian's promtool)
deploy-check:
	bash deploy/validate.sh

tidy:
	$(foreach m,$(MODULES),(cd $(m) && go mod tidy) &&) true
