# libmrt: `make demo` runs the demo (C, Python and Zig hosts); `make test` runs every
# test. Both build what they need and install missing tools themselves.
SHELL := /bin/bash
CARGO ?= cargo
LIBDIR := $(CURDIR)/target/release
export MRT_LIB := $(LIBDIR)/libmrt.so

# The version comes from Cargo.toml (a test keeps mrt.h's MRT_VERSION_* equal to it);
# the soname carries only the major number (build.rs: -soname libmrt.so.0).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
REALNAME := libmrt.so.$(VERSION)
SONAME := libmrt.so.$(SOMAJOR)

.PHONY: all lib dist header demo test test-rust test-c test-gdb test-go test-san test-echo test-http test-bench test-python test-zig \
	test-install test-python-package test-zig-package install uninstall deps bench loom loom-clippy clippy fmt clean \
	chaos test-chaos

all: lib

# The shared and static libraries. The real file carries the full version and the
# soname link points at it, as an installed library's do; target/release/libmrt.so
# itself stays Cargo's own output.
lib:
	$(CARGO) build --release --lib
	cp -f $(LIBDIR)/libmrt.so $(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(LIBDIR)/$(SONAME)

# ---- installing (C hosts) --------------------------------------------------------
# `make install PREFIX=/usr/local DESTDIR=` puts the header, the shared library (real
# file + soname + dev links), the static library, pkg-config and CMake files, the
# licence and the docs (laid out as in the repository, so their links hold) under
# $(DESTDIR)$(PREFIX); `make uninstall` (same variables)
# removes exactly those. Installed libraries are stripped; the shared library's debug
# info goes to lib/.debug/, where gdb finds it through the .gnu_debuglink section.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_LIBDIR ?= $(PREFIX)/lib
INSTALL_INCDIR ?= $(PREFIX)/include
INSTALL_DOCDIR ?= $(PREFIX)/share/doc/mrt
DIST := $(CURDIR)/target/dist
DOCS := README.md CHANGELOG.md LICENSE
DOCS_SUB := docs/api.md docs/design.md docs/hosts.md
# What the static library needs from the system when linked into a C program, from
# `cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs`.
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
EMPTY :=
SPACE := $(EMPTY) $(EMPTY)

# The release artefacts as installed: stripped copies and the split debug info.
dist: lib
	@mkdir -p $(DIST)
	objcopy --only-keep-debug $(LIBDIR)/libmrt.so $(DIST)/$(REALNAME).debug
	objcopy --strip-debug --strip-unneeded \
		--add-gnu-debuglink=$(DIST)/$(REALNAME).debug $(LIBDIR)/libmrt.so $(DIST)/$(REALNAME)
	objcopy --strip-debug $(LIBDIR)/libmrt.a $(DIST)/libmrt.a

install: dist
	install -d $(DESTDIR)$(INSTALL_INCDIR) $(DESTDIR)$(INSTALL_LIBDIR)/.debug \
		$(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig $(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt \
		$(DESTDIR)$(INSTALL_DOCDIR)/docs
	install -m 644 include/mrt.h $(DESTDIR)$(INSTALL_INCDIR)/mrt.h
	install -m 755 $(DIST)/$(REALNAME) $(DESTDIR)$(INSTALL_LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(INSTALL_LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(INSTALL_LIBDIR)/libmrt.so
	install -m 644 $(DIST)/$(REALNAME).debug $(DESTDIR)$(INSTALL_LIBDIR)/.debug/$(REALNAME).debug
	install -m 644 $(DIST)/libmrt.a $(DESTDIR)$(INSTALL_LIBDIR)/libmrt.a
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(INSTALL_LIBDIR)|; s|@INCDIR@|$(INSTALL_INCDIR)|' \
		-e 's|@VERSION@|$(VERSION)|; s|@STATIC_LIBS@|$(STATIC_LIBS)|' \
		packaging/mrt.pc.in > $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig/mrt.pc
	sed -e 's|@REALNAME@|$(REALNAME)|; s|@SONAME@|$(SONAME)|' \
		-e 's|@STATIC_LIBS@|$(subst $(SPACE),;,$(patsubst -l%,%,$(STATIC_LIBS)))|' \
		packaging/mrtConfig.cmake.in > $(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt/mrtConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|' packaging/mrtConfigVersion.cmake.in \
		> $(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt/mrtConfigVersion.cmake
	install -m 644 $(DOCS) $(DESTDIR)$(INSTALL_DOCDIR)/
	install -m 644 $(DOCS_SUB) $(DESTDIR)$(INSTALL_DOCDIR)/docs/

uninstall:
	rm -f $(DESTDIR)$(INSTALL_INCDIR)/mrt.h \
		$(DESTDIR)$(INSTALL_LIBDIR)/$(REALNAME) $(DESTDIR)$(INSTALL_LIBDIR)/$(SONAME) \
		$(DESTDIR)$(INSTALL_LIBDIR)/libmrt.so $(DESTDIR)$(INSTALL_LIBDIR)/libmrt.a \
		$(DESTDIR)$(INSTALL_LIBDIR)/.debug/$(REALNAME).debug \
		$(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig/mrt.pc \
		$(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt/mrtConfig.cmake \
		$(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt/mrtConfigVersion.cmake \
		$(addprefix $(DESTDIR)$(INSTALL_DOCDIR)/,$(DOCS) $(DOCS_SUB))
	-rmdir $(DESTDIR)$(INSTALL_LIBDIR)/cmake/mrt $(DESTDIR)$(INSTALL_DOCDIR)/docs \
		$(DESTDIR)$(INSTALL_DOCDIR) \
		$(DESTDIR)$(INSTALL_LIBDIR)/.debug 2>/dev/null

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

test: lib deps test-rust loom loom-clippy test-c test-gdb test-go test-san test-chaos test-echo test-http test-bench test-install test-python test-python-package test-zig test-zig-package
	@echo "make test: all suites passed"

test-rust:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --release

test-c: lib
	bash c-tests/run.sh

# The gdb extension (tools/gdb/mrt-gdb.py, auto-loaded from the library) and the
# assembly's CFI, under gdb -batch: c-tests/gdb/run.sh.
test-gdb: lib deps
	bash c-tests/gdb/run.sh

# Go's own runtime, time and sync tests ported to C, at GOMAXPROCS 1, 2 and 4, each run
# under a watchdog; c-tests/gotests/xfail.txt lists runs expected to fail (none now).
test-go: lib
	bash c-tests/gotests/run.sh

# C hosts built with -fsanitize=address and -fsanitize=thread: zero reports, and the
# reports come back when libmrt's annotations are switched off (c-tests/san.sh).
test-san: lib
	bash c-tests/san.sh

# The chaos harness (chaos/chaos.c): random workloads and disturbers (fork, signal
# storms, GOMAXPROCS changes, adopted threads, fd exhaustion, rt_shutdown/rt_init
# cycles) for DURATION seconds, every message accounted for. `make chaos SEED=N
# DURATION=S` replays a seed's decisions; CHAOS_FLAGS adds options (e.g. --oom-hard).
DURATION ?= 60
SEED ?=
chaos: lib
	bash chaos/run.sh $(DURATION) $(SEED)

# A 60-second slice of it in `make test`.
test-chaos: lib
	bash chaos/run.sh 60

# The echo server driven by 200 concurrent connections from another process.
test-echo: lib
	bash examples/run_echo.sh 200 262144

# The HTTP/1.1 hello server checked by a small Python client: keep-alive, pipelining,
# Connection: close, 400s, vanishing clients, idle timeout, EMFILE back-off.
test-http: lib
	bash examples/run_http_hello.sh

# bench/report.py (make bench's report.md and SVG charts) on a canned bench log, and
# the C side of parked_1m and getstats_1m at small sizes (bench/test_bench.sh).
test-bench: lib
	bash bench/test_bench.sh

# Install into a temporary prefix, then build and run a C program against it from
# outside the tree: pkg-config, CMake find_package, and statically.
test-install: lib deps
	bash ci/test-install.sh

test-python: lib
	bash python-bindings/run_tests.sh

# A fresh venv: pip install ./python-bindings builds and bundles libmrt; pip wheel.
test-python-package: lib
	bash python-bindings/test_package.sh

test-zig: lib
	bash zig/run.sh test

# Another Zig project fetches a tarball of the working tree and builds against the
# installed libmrt (pkg-config).
test-zig-package: lib deps
	bash zig/test_package.sh

# Every bench against its peer; also writes bench/out/report.md and one SVG chart per
# bench (bench/report.py). `make bench QUICK=1`: every bench at reduced sizes, 2 runs a
# side. wrk (the HTTP bench's load generator) comes from `ci/deps.sh --bench`.
QUICK ?=
bench: lib deps
	@bash ci/deps.sh --bench
	MRT_BENCH_QUICK=$(if $(filter-out 0,$(QUICK)),1,0) bash bench/run.sh

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
	rm -rf c-tests/bin bench/out zig/.zig-cache zig/zig-out zig/consumer/.zig-cache zig/consumer/zig-out
