# Berth: `make run` serves a local registry, `make test` runs every test.
# Cargo builds go to $CARGO_TARGET_DIR when set (CI keeps it outside the clone).

CARGO ?= cargo

.PHONY: all build run test test-unit lint deps ui bench bench-quick bench-gc clean

all: build

deps:
	@scripts/install-deps.sh

build:
	$(CARGO) build --workspace

## The Berth desktop app (or, without a display, `berthd console` and its URL);
## the registry alone: `cargo run --release -p berthd -- serve`.
run: deps
	CARGO="$(CARGO)" scripts/run.sh

## The admin UI (ui/dist): the desktop window and `berthd console` serve it;
## the Tauri app embeds it at compile time, so it is built before clippy.
ui:
	cd ui && npm install --no-audit --no-fund && npm run check && npm run build

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Everything: formatting, lints, unit, integration and end-to-end tests,
## with the storage servers of the cloud-driver tests started and stopped
## around them (scripts/test.sh).
test: deps ui lint
	CARGO="$(CARGO)" scripts/test.sh

## berthd vs CNCF Distribution, side by side (release builds, bench/run);
## BENCH_ARGS passes options, e.g. BENCH_ARGS="--rounds 5 --markdown out.md"
## or BENCH_ARGS="--storage s3" (starts Ceph RGW for the run).
bench: deps
	CARGO="$(CARGO)" bench/run $(BENCH_ARGS)

bench-quick: deps
	CARGO="$(CARGO)" bench/run --quick $(BENCH_ARGS)

## berthd du vs du -s, berthd gc --dry-run vs registry garbage-collect
## --dry-run, on a generated store of 100,000 blobs (bench/gc-du.sh).
bench-gc: deps
	CARGO="$(CARGO)" bench/gc-du.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean
