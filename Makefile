# hooktunnel — the two commands a fresh machine needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/hooktunnel
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: build run test lint bench fuzz clean release

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hooktunnel

# An edge and an agent on loopback with a demo echo app; prints a curl line.
run: build
	./$(BIN) dev --echo

# Tests whose tools are missing skip, except under CI=true; the report
# says which, since go test shows a passing package's skips only with -v.
test: lint
	@$(GO) run ./test/need/report
	$(GO) test -race -shuffle=on -timeout 30m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Throughput, latency and memory through the tunnel, as ratios against the
# app called directly in the same run.
bench: build
	$(GO) build -o bin/bench ./test/bench
	./bin/bench -bin $(BIN)
	@n=$$(nproc); if [ $$n -ge 2 ]; then h=$$((n / 2)); \
	  echo; echo "Again with the tunnel on CPUs of its own, as an edge has on its own machine:"; \
	  taskset -c 0-$$((h - 1)) ./bin/bench -bin $(BIN) -tunnel-cpus $$h-$$((n - 1)) -agents 0 -stores=false; fi
	@echo; echo "policy evaluation per request (route, allowlist, GitHub signature):"
	@$(GO) test -run '^$$' -bench Evaluate -benchmem ./policy | grep Benchmark
	@echo; echo "route filter per webhook (a GitHub filter on a 10 KiB pull_request; parse+eval parses the body, eval reuses it):"
	@$(GO) test -run '^$$' -bench Filter -benchmem ./policy | grep Benchmark
	@echo; echo "journal write per webhook (batches of 256, 1 KiB bodies):"
	@$(GO) test -run '^$$' -bench RecordAll -benchtime 40x ./edge/store | grep Benchmark

# Every fuzz target, FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

# Static binaries for every platform, the version stamped in, and their
# checksums: dist/hooktunnel_<version>_<os>_<arch>[.exe] and dist/SHA256SUMS.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

release:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; \
	  if [ "$$os" = windows ]; then ext=.exe; fi; \
	  out=dist/hooktunnel_$(VERSION)_$${os}_$${arch}$$ext; echo "$$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $$out ./cmd/hooktunnel; \
	done
	cd dist && if command -v sha256sum >/dev/null; then sha256sum hooktunnel_*; else shasum -a 256 hooktunnel_*; fi > SHA256SUMS

clean:
	rm -rf bin dist
