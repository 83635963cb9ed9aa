# glance-go: `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
PROTO_DIR := plugin-proto
GEN_DIR := sdk/internal/gen
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
TOOLS := $(CURDIR)/.tools
# plugins/rbd is its own module (cgo: Ceph's librados and librbd), built by build-rbd.
PLUGIN_CMDS := $(patsubst %,./%/...,$(filter-out plugins/rbd/cmd,$(wildcard plugins/*/cmd)))

.PHONY: help build build-go build-rbd run test test-integration bench proto lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: build-go build-rbd ## build glance-api and every store plugin into bin/ (rbd only with Ceph's dev packages)

build-go: ## build glance-api and the pure-Go store plugins into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./core/cmd/... $(PLUGIN_CMDS)

build-rbd: ## build glance-store-rbd into bin/ when librados-dev and librbd-dev are installed, else say it is skipped
	@if pkg-config --exists rados librbd 2>/dev/null || \
	   { [ -f /usr/include/rados/librados.h ] && [ -f /usr/include/rbd/librbd.h ]; }; then \
		mkdir -p $(BIN) && echo "building plugins/rbd (cgo, -tags pacific)" && \
		cd plugins/rbd && $(GO) build -tags pacific -o $(BIN)/ ./cmd/...; \
	else \
		echo "*** make build: SKIPPED plugins/rbd (glance-store-rbd): Ceph development packages missing"; \
		echo "*** (apt-get install librados-dev librbd-dev; make test-integration installs them)"; \
	fi

run: build ## build, then serve on 127.0.0.1:9292 from config.hcl (SQLite + filesystem store under ./data)
	@mkdir -p data/images
	$(BIN)/glance-api -config config.hcl

test: build-go ## unit, conformance and end-to-end tests that need only Go (not plugins/rbd: its own module, needs Ceph)
	$(GO) test -count=1 -timeout 20m ./...
	cd sdk && $(GO) test -count=1 -timeout 20m ./...

test-integration: build ## tests against real services started by scripts/ (PostgreSQL, ...)
	./scripts/test-integration.sh

bench: build ## every benchmark under bench/ (data path, registry, …): prints figures, asserts nothing
	@set -e; for b in bench/*.sh; do echo "== $$b"; bash $$b; done

proto: ## regenerate the committed Go code from plugin-proto/
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	rm -rf $(GEN_DIR) && mkdir -p $(GEN_DIR)
	PATH=$(TOOLS):$$PATH protoc -I $(PROTO_DIR) \
		--go_out=$(GEN_DIR) --go_opt=module=github.com/glance-go/glance/sdk/internal/gen \
		--go-grpc_out=$(GEN_DIR) --go-grpc_opt=module=github.com/glance-go/glance/sdk/internal/gen \
		$(PROTO_DIR)/glance/store/v1/store.proto

lint: ## gofmt, go vet and staticcheck on every module
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '/internal/gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '/internal/gen/'); exit 1; }
	$(GO) vet ./... && (cd sdk && $(GO) vet ./...)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(TOOLS)/staticcheck ./... && (cd sdk && $(TOOLS)/staticcheck ./...)

clean: ## remove build output
	rm -rf $(BIN) $(TOOLS)
