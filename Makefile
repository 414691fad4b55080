# tcpkeep: build, test, benchmark, install.
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift

# The release CLI links the Swift runtime statically, so an installed tcpkeep needs no toolchain.
RELEASE := -c release --static-swift-stdlib
BIN = $(shell $(SWIFT) build $(RELEASE) --show-bin-path)
SHIM = $(BIN)/tcpkeep_TCPKeep.resources/libtcpkeep.so

.PHONY: all build test deps bench demo install uninstall check-install clean

all: build

build:
	$(SWIFT) build $(RELEASE)

# An install into a scratch DESTDIR, to check the installed layout finds its shim, then every
# test, the sanitizer and valgrind runs of the shim included. The tests use Swift Testing alone.
test: deps
	$(MAKE) --no-print-directory check-install
	$(SWIFT) build --build-tests
	$(SWIFT) test --disable-xctest

deps:
	scripts/install-deps

bench: build
	scripts/install-deps bench
	bench/socket-overhead $(SHIM)
	bench/audit-connections.py $(BIN)/tcpkeep

# The redis cluster bus before and after tcpkeep, in under a minute.
demo: build
	scripts/install-deps demo
	scripts/demo $(BIN)/tcpkeep

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/tcpkeep
	install -m 755 $(BIN)/tcpkeep $(DESTDIR)$(PREFIX)/bin/tcpkeep
	install -m 644 $(SHIM) $(DESTDIR)$(PREFIX)/lib/tcpkeep/libtcpkeep.so

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tcpkeep $(DESTDIR)$(PREFIX)/lib/tcpkeep/libtcpkeep.so
	-rmdir $(DESTDIR)$(PREFIX)/lib/tcpkeep 2>/dev/null

check-install:
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	$(MAKE) --no-print-directory install DESTDIR="$$scratch" PREFIX=/opt/tcpkeep >/dev/null && \
	expected="export LD_PRELOAD='$$scratch/opt/tcpkeep/lib/tcpkeep/libtcpkeep.so'" && \
	actual=$$(env -u LD_PRELOAD "$$scratch/opt/tcpkeep/bin/tcpkeep" env) && \
	if [ "$$actual" != "$$expected" ]; then echo "installed tcpkeep did not find its shim: $$actual"; exit 1; fi && \
	$(MAKE) --no-print-directory uninstall DESTDIR="$$scratch" PREFIX=/opt/tcpkeep && \
	if [ -n "$$(find "$$scratch" -type f)" ]; then echo "uninstall left files behind"; exit 1; fi && \
	echo "check-install: make install and make uninstall work (DESTDIR, PREFIX)"

clean:
	rm -rf .build
