# caching-proxy: every target a new machine needs. `make test` is what CI runs.
GO        ?= go
BIN       := bin/caching-proxy
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PORT      ?= 3000
ORIGIN    ?= https://dummyjson.com
# Iterations, not seconds: a wall-clock -fuzztime can fail with "context deadline
# exceeded" when the machine is busy.
FUZZTIME  ?= 30000x

.PHONY: all build run test unit lint fuzz conformance redis-deps prometheus-deps deploy-check bench soak clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/caching-proxy

# The proxy on its embedded in-memory store, in front of $(ORIGIN).
run: build
	./$(BIN) start --port $(PORT) --origin $(ORIGIN)

# All tests: lint, unit and end-to-end tests with the race detector (a real
# redis-server is installed for the shared-tier tests, Debian's prometheus for the
# deploy/ tests), each fuzz target briefly,
# the deploy/ checks, and the public HTTP cache conformance suite.
test: lint redis-deps prometheus-deps unit fuzz deploy-check conformance

# The request-path suite runs a second time with its clients on HTTPS and HTTP/2 (-h2).
unit:
	$(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 ./internal/proxy/ -args -h2

lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Each fuzz target for $(FUZZTIME); seed corpora live in the packages' testdata/.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
	  done; done

conformance: build
	bash internal/conformance/run.sh

# The shared-tier tests start real servers on free loopback ports: redis-server
# (single, cluster and, with --sentinel, the sentinels), redis-cli (--cluster
# create) and redis-sentinel. Installed when missing; a service a package starts
# (its own port, 6379 or 26379) is stopped, since the tests start their own.
redis-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  for svc in $$missing; do \
	    [ "$$svc" = redis-tools ] && continue; \
	    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now $$svc >/dev/null 2>&1 || true; \
	    elif command -v service >/dev/null; then service $$svc stop >/dev/null 2>&1 || true; fi; \
	  done; \
	fi

# Debian's prometheus: the server the deploy/ tests in cmd/caching-proxy start, and
# promtool for deploy/check.sh. The package may start a service on :9090; the tests
# use their own free ports, and the service is stopped where a service manager runs.
prometheus-deps:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  service prometheus stop >/dev/null 2>&1 || true; }

deploy-check:
	bash deploy/check.sh

bench:
	bash internal/bench/run.sh

soak: build
	$(GO) test -count=1 -run '^TestSoak$$' -timeout 10m -v ./internal/soak/ -soak

clean:
	rm -rf bin internal/conformance/node_modules internal/conformance/results
