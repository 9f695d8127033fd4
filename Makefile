# SocketQueue-Go. `make run` starts the gateway with the built-in bank
# emulator as its upstream; `make test` runs every test with the race
# detector.
GO        ?= go
BIN       := bin
PKGS      := ./...
FUZZTIME  ?= 20s

.PHONY: all build run test test-deps test-short bench bench-e2e bench-micro fuzz lint fmt vet tidy clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -buildvcs=auto -o $(BIN)/ $$(ls -d ./cmd/*/ ./tools/*/ 2>/dev/null)

# make run's ports; each can be set: make run HTTP_PORT=8090 ADMIN_PORT=8091
BANK_PORT  ?= 5000
POS_PORT   ?= 2014
HTTP_PORT  ?= 8080
ADMIN_PORT ?= 8081
STAT_PORT  ?= 4000

run: build
	$(BIN)/socketqueue --echoServerPort=$(BANK_PORT) --upstreamHost=127.0.0.1 --upstreamPort=$(BANK_PORT) \
		--listenPort=$(POS_PORT) --listenHttpPort=$(HTTP_PORT) --adminPort=$(ADMIN_PORT) --statServerPort=$(STAT_PORT) --v

test: vet
	$(GO) test -race -count=1 $(PKGS)

# Debian packages some tests use: promtool (the prometheus package) to
# check the alert rules in deploy/prometheus, chromium to load the live
# dashboard. Without them those tests skip and say so.
test-deps:
	@command -v promtool >/dev/null || { command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }

test-short:
	$(GO) test -short -count=1 $(PKGS)

# End to end: emulator and gateway as separate processes, the load
# generator in each mode, and the emulator alone as the ceiling (under 5
# minutes); then the Go micro benchmarks with allocs/op.
bench: build bench-e2e bench-micro

bench-e2e:
	$(GO) run ./bench/suite --bin=$(BIN)/socketqueue

BENCHPKGS := ./isocodec/... ./dispatch/... ./journal/... ./stats/... ./metrics/... ./bank/...

bench-micro:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 $(BENCHPKGS)
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -benchtime=3s ./server/
	$(GO) test -run='^$$' -bench=SubmitMatch -benchmem -count=1 -cpu=1,2,4 ./dispatch/

# Each fuzz target in turn (go test -fuzz takes one target at a time).
FUZZPKGS := ./isocodec ./bank ./journal ./server ./config

fuzz:
	@set -e; for p in $(FUZZPKGS); do for t in $$($(GO) test -list='^Fuzz' $$p | grep '^Fuzz'); do \
		echo "== $$p $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$p; done; done

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: vet
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy:
	$(GO) mod tidy

clean:
	rm -rf $(BIN)
