# hooktunnel — the two commands a fresh machine needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/hooktunnel
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: build run test lint bench fuzz clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hooktunnel

# An edge and an agent on loopback with a demo echo app; prints a curl line.
run: build
	./$(BIN) dev --echo

test: lint
	$(GO) test -race -shuffle=on -timeout 30m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Throughput, latency and memory through the tunnel, as ratios against the
# app called directly in the same run.
bench: build
	$(GO) run ./test/bench -bin $(BIN)
	@echo; echo "policy evaluation per request (route, allowlist, GitHub signature):"
	@$(GO) test -run '^$$' -bench Evaluate -benchmem ./policy | grep Benchmark

# Every fuzz target, FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

clean:
	rm -rf bin dist
