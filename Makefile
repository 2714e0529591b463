# oncall: see `make help`.
SHELL := /bin/bash
GO    ?= go
# Admin URL of a PostgreSQL server; scripts/devdb.sh starts a private one when none answers.
DEVDB  = $(shell ./scripts/devdb.sh)
# The demo's database on that server (DATABASE_URL wins when set).
RUN_DATABASE_URL = $(or $(DATABASE_URL),$(subst /postgres?,/oncall?,$(DEVDB)))

.PHONY: help run build test test-short bench fuzz generate lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/oncall
	$(GO) build -o bin/oncall ./cmd/oncall

run: build ## serve with the example company's configuration (starts Postgres if none runs)
	DATABASE_URL='$(RUN_DATABASE_URL)' ONCALL_CONFIG=$${ONCALL_CONFIG:-manifests/example} ./bin/oncall serve

test: ## go vet, the whole suite with -race, and every fuzz target for 1000 inputs (starts Postgres if none runs)
	@db='$(DEVDB)'; test -n "$$db" || exit 1; \
	./scripts/node-tools.sh || true; \
	export ONCALL_TEST_DATABASE_URL="$$db"; \
	$(GO) vet ./... && \
	$(GO) test -race -count=1 -timeout 8m ./... && \
	FUZZTIME=$${TEST_FUZZTIME:-1000x} FUZZBUILD=-race ./scripts/fuzz.sh

bench: ## print the performance figures with their targets
	@export ONCALL_TEST_DATABASE_URL='$(DEVDB)'; ./scripts/bench.sh

fuzz: ## run every fuzz target (FUZZ=regexp: some) for FUZZTIME each (default 30s)
	@export ONCALL_TEST_DATABASE_URL='$(DEVDB)'; \
	FUZZTIME=$${FUZZTIME:-30s} FUZZMIN=$${FUZZMIN:-10s} ./scripts/fuzz.sh

generate: ## regenerate generated code (go generate)
	$(GO) generate ./...

lint: ## gofmt, go vet, and the package-layering rules
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt would change: $$out"; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -run TestArchitecture .

clean: ## remove build output and the private database
	rm -rf bin .tools
	@if [ -d .data/pg ]; then runuser -u postgres -- pg_ctl -D .data/pg stop 2>/dev/null || pg_ctl -D .data/pg stop || true; fi
	rm -rf .data
