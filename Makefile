# PRM suite. `make run` starts everything on :8080; `make test` runs every test
# against SQLite and the real PostgreSQL, Redis and RabbitMQ on 127.0.0.1.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
# The test matrix (crates/testkit/src/matrix.rs): the SQLite pass runs every test with
# the in-memory state store and the in-process bus; the PostgreSQL pass runs the store,
# the runtime and every crate built on the runtime (each service) again, on Redis and
# RabbitMQ. So each service suite meets both adapters of each port, and a new service
# joins the second pass by depending on prm-runtime, with no edit here.
SQLITE_MATRIX := PRM_TEST_DATABASE=sqlite PRM_TEST_STATE=memory PRM_TEST_BUS=inprocess
POSTGRES_MATRIX := PRM_TEST_DATABASE=postgres PRM_TEST_STATE=redis PRM_TEST_BUS=rabbitmq
DB_CRATES = -p prm-store $(shell $(CARGO) tree --workspace --invert prm-runtime --edges normal --depth 1 --prefix none | awk '{print "-p " $$1}' | sort -u)

.PHONY: run demo test test-sqlite test-postgres lint fmt openapi bench bench-webhooks services build check-specs check-api image check-n8n

run: ## start the all-in-one suite on :8080 (SQLite, embedded defaults) with the demo clinic
	$(CARGO) run --release -p prm -- --demo

demo: ## a terminal chat in which you are the patient, until an appointment is booked (no Twilio account needed)
	$(CARGO) run --release -p prm --bin prm-chat

build:
	$(CARGO) build --workspace --all-targets

services: ## make sure PostgreSQL, Redis and RabbitMQ are up (starts them if installed)
	./scripts/services.sh

test: services ## every test, SQLite then PostgreSQL, then the spec and deployment checks, the API against its document, the n8n workflows
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) check-specs
	$(MAKE) check-api
	$(MAKE) check-n8n

check-specs: ## validate openapi/, asyncapi.yaml, docker-compose.yml (every profile) and deploy/k8s offline
	./scripts/check-specs.sh

# schemathesis from PyPI (installed once into ~/.cache/prm) against `prm --demo` on a throwaway
# PostgreSQL database: every check, a fixed seed and a bounded number of cases (a few minutes).
check-api: ## check that the server does what openapi/prm.json says (schemathesis; any finding fails)
	./scripts/schemathesis.sh run

# The one image holding every binary (deploy/Dockerfile; BuildKit for its cache mounts).
IMAGE ?= prm:local
image: ## build the image of every binary, tagged $(IMAGE) (docker compose uses prm:local)
	DOCKER_BUILDKIT=1 docker build -f deploy/Dockerfile -t $(IMAGE) .

# The real n8n from the npm registry (installed once into ~/.cache/prm, about 6 minutes and
# 2 GB; afterwards offline). Imports deploy/n8n/*.json (about 8 s), runs both workflows
# against a fake OpenAI-compatible LLM and a signature-checking callback receiver, then the
# triage workflow against the real `prm`, whose n8n-callbacks must accept its answer
# (about 2 minutes in all).
check-n8n: ## import the n8n workflows into the real n8n and run them against fakes and prm
	./scripts/n8n.sh import
	./scripts/n8n.sh run
	./scripts/n8n.sh check-prm

test-sqlite: ## every test on SQLite, in-memory state and the in-process bus
	$(SQLITE_MATRIX) $(CARGO) test --workspace --all-targets --no-fail-fast
	$(SQLITE_MATRIX) $(CARGO) test --workspace --doc

test-postgres: ## the store, runtime and service suites on PostgreSQL, Redis and RabbitMQ
	@case "$(DB_CRATES)" in *prm-runtime*) ;; *) echo "test-postgres: cargo tree could not list the crates built on prm-runtime" >&2; exit 1;; esac
	$(POSTGRES_MATRIX) $(CARGO) test $(DB_CRATES) --all-targets --no-fail-fast

lint: ## formatting check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

openapi: ## regenerate openapi/*.json from the code
	UPDATE_OPENAPI=1 $(CARGO) test -p prm --test openapi

bench: ## benchmarks (see docs/performance.md); WEBHOOKS=1 also runs the webhook load test
	$(CARGO) bench --workspace
	@if [ -n "$(WEBHOOKS)" ]; then $(MAKE) bench-webhooks; fi

# Release build, real PostgreSQL/Redis/RabbitMQ. RATE=1000 for a fixed arrival rate
# (else wrk, closed loop); DURATION (default 30s) and CONNECTIONS as in the script.
bench-webhooks: services ## webhook load test: bench/webhooks-load.sh (RATE=1000 for a fixed rate)
	RATE=$(RATE) bench/webhooks-load.sh $(or $(DURATION),30s) $(CONNECTIONS)
