# libmrt: `make demo` runs the demo (C, Python and Zig hosts); `make test` runs every
# test. Both build what they need and install missing tools themselves.
SHELL := /bin/bash
CARGO ?= cargo
LIBDIR := $(CURDIR)/target/release
export MRT_LIB := $(LIBDIR)/libmrt.so

.PHONY: all lib header demo test test-rust test-c test-echo test-python test-zig deps bench loom loom-clippy clippy fmt clean

all: lib

# The shared library, plus the soname link that programs linked with -lmrt look for.
lib:
	$(CARGO) build --release --lib
	ln -sf libmrt.so $(LIBDIR)/libmrt.so.0

# Refresh the committed header from the Rust sources.
header:
	MRT_WRITE_HEADER=1 $(CARGO) build --release --lib

deps:
	@bash ci/deps.sh

demo: lib deps
	bash examples/run_demo_c.sh
	bash examples/run_echo.sh 100 16384
	bash python-bindings/run_demo.sh
	bash zig/run.sh demo

test: lib deps test-rust loom loom-clippy test-c test-echo test-python test-zig
	@echo "make test: all suites passed"

test-rust:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --release

test-c: lib
	bash c-tests/run.sh

# The echo server driven by 200 concurrent connections from another process.
test-echo: lib
	bash examples/run_echo.sh 200 262144

test-python: lib
	bash python-bindings/run_tests.sh

test-zig: lib
	bash zig/run.sh test

bench: lib deps
	bash bench/run.sh

# Model checks of the production concurrency code (run queue, spinning-M protocol,
# Note/Mutex over a futex model, timer heaps, channel close vs select), in their own
# target dir so that the --cfg loom build does not evict the normal one. Bounded
# models take LOOM_MAX_PREEMPTIONS from the environment if it is set. Their lint
# (the lib's non-test build cannot see loom, a dev-dependency): see loom-clippy.
loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(CURDIR)/target/loom $(CARGO) test --release --lib loom_

loom-clippy:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(CURDIR)/target/loom $(CARGO) clippy --lib --profile test -- -D warnings

clean:
	$(CARGO) clean
	rm -rf c-tests/bin bench/out zig/.zig-cache zig/zig-out
