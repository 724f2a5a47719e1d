# fleetgrid: every target runs with Node 24 LTS. When the machine's node is older, Node 24
# comes from the npm registry's node@24 package (it ships the binary) into .cache/node24.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
CACHE := $(ROOT)/.cache
NODE24_DIR := $(CACHE)/node24
NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ "$(NODE_MAJOR)" -ge 24 ] 2>/dev/null && echo yes),yes)
NODE_STAMP :=
else
export PATH := $(NODE24_DIR)/node_modules/.bin:$(PATH)
NODE_STAMP := $(NODE24_DIR)/.installed
endif
export npm_config_loglevel := error
export npm_config_fund := false
export npm_config_audit := false
export npm_config_update_notifier := false

.PHONY: help setup up down status demo test test-unit test-int test-faults test-notify-faults test-cluster bench-cluster bench-scale typecheck lint bench bench-faults bench-soak clean

help: ## list the targets
	@echo "fleetgrid: streaming telemetry pipeline"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(NODE24_DIR)/.installed:
	@echo "[setup] node $$(node --version 2>/dev/null || echo none) is older than 24: installing Node 24 LTS from the npm registry"
	@mkdir -p $(NODE24_DIR)
	@cd $(NODE24_DIR) && npm install --no-save --prefix . node@24 >/dev/null
	@touch $@

node_modules/.installed: package.json package-lock.json $(NODE_STAMP)
	@echo "[setup] installing npm packages with node $$(node --version)"
	@# npm ci refuses this lock file: the registry mirror serves only the Linux builds of
	@# platform-specific optional packages, so the lock lists no others. install honours the lock.
	@npm install --no-audit --no-fund --no-save >/dev/null
	@touch $@

setup: $(NODE_STAMP) node_modules/.installed ## install Node 24, npm packages, the stack's jars and Debian packages
	@bash infra/local/setup-debian.sh
	@bash infra/local/stack.sh fetch

up: setup ## start the local stack on loopback (idempotent; KAFKA_NODES=3 for a 3-node Kafka)
	@bash infra/local/stack.sh up
	@# The fleet registry: schema migrations, then its Debezium connector (both idempotent).
	@node bin/fleetgrid.mjs registry cdc up

down: ## stop what `make up` started
	@bash infra/local/stack.sh down

status: ## every local service: address, health, who started it
	@bash infra/local/stack.sh status

demo: up ## run the whole pipeline on the local defaults
	@node bin/fleetgrid.mjs demo

typecheck: setup
	@npx tsc -p tsconfig.json

lint: setup
	@npx biome check .

test-unit: setup
	@npx vitest run --project unit

test-int: up
	@npx vitest run --project integration

test: up ## type-check, lint, then every unit and integration test against the real stack
	@echo "[test] type-check"; npx tsc -p tsconfig.json
	@echo "[test] lint"; npx biome check .
	@echo "[test] unit and integration tests"; mkdir -p .data; npx vitest run --reporter=default --reporter=json --outputFile.json=.data/test-results.json

test-faults: up ## the fault matrix, briefly (not part of `make test`; ~6 min): docs/reliability.md
	@node bench/faults.ts --brief

bench-faults: up ## every fault once at ~2,500 ev/s for 75 s, and the table (~20 min): docs/reliability.md
	@node bench/faults.ts

# Issue 15: failover on private 3-node Kafka clusters (replication 3, min ISR 2). Each run
# starts its own three JVMs, so it holds the machine's heavy-work lock, and is bounded.
test-cluster: up ## the idempotent producer through kill -9, the three broker faults with 2 processors, scale-out 1→3→1, briefly (~15 min; not in `make test`): docs/reliability.md
	@flock /tmp/fleetgrid-heavy.lock timeout -k 30 1800 npx vitest run -c vitest.cluster.config.ts

CLUSTER_ARGS ?=
bench-cluster: up ## the three broker faults on a 3-node cluster at 1,500 ev/s, 2 processors (~15 min): docs/reliability.md
	@for fault in broker-kill rolling-restart broker-pause; do \
	  flock /tmp/fleetgrid-heavy.lock timeout -k 30 900 node bin/fleetgrid.mjs loadtest --profile constant \
	    --rate 1500 --devices 300 --duration 150 --window-size 10 --grace 5 --start-pipeline \
	    --processors 2 --fault $$fault --fault-at 30 --fault-for $$( [ $$fault = rolling-restart ] && echo 90 || echo 30 ) \
	    --fault-kafka-nodes 3 --drain-timeout 180 --no-progress \
	    --report reports/cluster-$$fault-$$(date -u +%Y%m%dT%H%M%SZ) $(CLUSTER_ARGS) || exit 1; \
	done

# Issue 15, scale-out: processors 1 → 3 → 1 with a member added or removed every 10 s for
# 2 minutes and a sink handover, then throughput with 1, 2 and 3 processors; on a private
# 3-node cluster (SCALE_ARGS="--nodes 1" for one broker, "--only throughput" for a part).
SCALE_ARGS ?=
bench-scale: up ## scale-out 1→3→1 processors every 10 s for 2 min, and throughput with 1/2/3 processors, 3-node cluster (~12 min): docs/reliability.md
	@flock /tmp/fleetgrid-heavy.lock timeout -k 30 2400 node bench/scale.ts $(SCALE_ARGS)

# The soak of issue 12 item 8: a started pipeline at the issue's load for an hour, with every
# service's RSS and heap charted (report.html, "Heap used"). Max lateness 10 min bounds the
# processor's retained windows so they level off after ~11 min: a heap still climbing after
# that is a leak (docs/reliability.md, "Memory under soak"). SOAK_ARGS adds or overrides options.
SOAK_ARGS ?=
bench-soak: up ## one-hour soak, 5,000 devices at 3,000 ev/s, memory charted (~70 min): docs/reliability.md
	@node bin/fleetgrid.mjs loadtest --profile constant --rate 3000 --devices 5000 --duration 3600 \
	  --start-pipeline --max-lateness 600 --verify-outputs --drain-timeout 300 --no-progress \
	  --report reports/soak-$$(date -u +%Y%m%dT%H%M%SZ) $(SOAK_ARGS)

# The notifier's outage test with Alertmanager killed for 60 s instead of 10 (docs/alerts.md).
test-notify-faults: up ## notifier: Alertmanager killed for 60 s while alerts change; none lost
	@NOTIFY_FAULT_DOWN_MS=60000 flock /tmp/fleetgrid-heavy.lock npx vitest run test/notify/outage.int.test.ts

bench: up ## per-stage benchmarks and a short end-to-end load test; see docs/BENCHMARKS.md
	@node bench/run.ts

clean: down ## stop the stack and delete data (keeps downloaded caches)
	rm -rf .data
