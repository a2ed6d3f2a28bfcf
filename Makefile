# gostkey — make build | demo | test | bench | fuzz
# Every target that needs system packages installs them first
# (scripts/install-deps.sh is idempotent and quick when nothing is missing).

GO       ?= go
BIN      := bin
GOFLAGS  ?=
SOFTTOKEN_SRC := $(wildcard pkcs11/softtoken/src/*.c pkcs11/softtoken/src/*.h)
CFLAGS_SOFTTOKEN := -std=c11 -O2 -g -fPIC -Wall -Wextra -Werror -fvisibility=hidden -D_GNU_SOURCE
FUZZTIME ?= 30s

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# `gostkey version` prints this; outside a git checkout the Go build
# information is used instead.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS  := $(if $(VERSION),-X main.version=$(VERSION))

.PHONY: all deps build test demo bench fuzz vet lint fmt-check clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps $(BIN)/libgostkey-softtoken.so
	@mkdir -p $(BIN)
	@$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

$(BIN)/libgostkey-softtoken.so: $(SOFTTOKEN_SRC) pkcs11/softtoken/src/exports.map
	@mkdir -p $(BIN)
	@$(CC) $(CFLAGS_SOFTTOKEN) -DOPENSSL_SUPPRESS_DEPRECATED $$(pkg-config --cflags p11-kit-1 libcrypto) \
		-shared -Wl,--version-script=pkcs11/softtoken/src/exports.map -Wl,-z,defs \
		-o $@ pkcs11/softtoken/src/*.c $$(pkg-config --libs libcrypto) -lpthread

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

# The default test run: everything, with the race detector, against the real
# parts (openssl + gost engine, softtoken, SoftHSM2). Long soaks and
# benchmarks live behind `make bench` and `make fuzz`.
test: build fmt-check vet lint
	$(GO) test -race -count=1 -timeout 20m ./...

# KEEP=1 keeps the demo's work directory (tokens, certificate, signature)
# and prints where it is.
demo: build
	@KEEP=$(KEEP) ./scripts/demo.sh

# bench: Go micro-benchmarks of gost/, then bench/ (paired rows against
# OpenSSL, the 200-file batch sign, the CA over HTTP: CA_BENCH_CERTS=100000
# for the RSS after 100k certificates), bench/cabench (the CA use cases
# in process, no HTTP: issuances/s, OCSP/s, CPU and RSS at 100k), then the 1 GiB constant-memory
# attached sign and verify (peak RSS under 64 MiB each).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./gost/...
	$(GO) run ./bench
	$(GO) run ./bench/cabench
	GOSTKEY_STREAM_1GIB=1 $(GO) test -count=1 -run '^TestStream1GiB$$' -v ./cms

fuzz: build
	@./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
