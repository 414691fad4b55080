# tcpkeep: build, test, benchmark, install.
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift

# The release CLI links the Swift runtime statically, so an installed tcpkeep needs no toolchain.
RELEASE := -c release --static-swift-stdlib
BIN = $(shell $(SWIFT) build $(RELEASE) --show-bin-path)
# The shim in the resource bundle SwiftPM names after the target that builds it (TCPKeepCore's
# shimBundleDirectory says which); found, not named, so that the name lives in one place.
SHIM = $(wildcard $(BIN)/*.resources/libtcpkeep.so)
SHARE = $(DESTDIR)$(PREFIX)/share
EXAMPLES = redis-server.service.d/50-tcpkeep.conf redis-sentinel.service.d/50-tcpkeep.conf \
	example.socket.d/50-tcpkeep.conf sysctl.d/60-tcpkeep.conf
# Written by hand; installed with the binary's path under PREFIX.
AUDIT_UNITS = tcpkeep-audit.service tcpkeep-audit.timer
# swift-argument-parser's generate-manual plugin writes the man page here.
MANUAL = .build/plugins/GenerateManual/outputs/TCPKeepCLI/tcpkeep.1

.PHONY: all build test deps bench demo fuzz install uninstall check-install examples manual clean

all: build

build:
	$(SWIFT) build $(RELEASE)

# An install into a scratch DESTDIR, to check the installed layout finds its shim, then every
# test, the sanitizer and valgrind runs of the shim included. The tests use Swift Testing alone.
test: deps
	$(MAKE) --no-print-directory check-install
	scripts/fuzz check
	$(SWIFT) build --build-tests
	$(SWIFT) test --disable-xctest

# The core's parsers under libFuzzer, FUZZ_SECONDS each (make test runs each for a few seconds).
FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz run $(FUZZ_SECONDS)

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

# The files in systemd/, regenerated with the tool itself.
examples: build
	scripts/generate-examples $(BIN)/tcpkeep systemd

manual:
	$(SWIFT) package plugin generate-manual --configuration release --date 2025-01-01

install: build manual
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/tcpkeep
	install -m 755 $(BIN)/tcpkeep $(DESTDIR)$(PREFIX)/bin/tcpkeep
	install -m 644 $(SHIM) $(DESTDIR)$(PREFIX)/lib/tcpkeep/libtcpkeep.so
	for example in $(EXAMPLES); do \
		install -D -m 644 systemd/$$example $(SHARE)/tcpkeep/$$example || exit 1; \
	done
	for unit in $(AUDIT_UNITS); do \
		sed 's|/usr/local/bin/tcpkeep|$(PREFIX)/bin/tcpkeep|' systemd/$$unit >$(SHARE)/tcpkeep/$$unit || exit 1; \
	done
	install -d $(SHARE)/bash-completion/completions $(SHARE)/zsh/site-functions $(SHARE)/fish/vendor_completions.d $(SHARE)/man/man1
	$(BIN)/tcpkeep --generate-completion-script bash >$(SHARE)/bash-completion/completions/tcpkeep
	$(BIN)/tcpkeep --generate-completion-script zsh >$(SHARE)/zsh/site-functions/_tcpkeep
	$(BIN)/tcpkeep --generate-completion-script fish >$(SHARE)/fish/vendor_completions.d/tcpkeep.fish
	install -m 644 $(MANUAL) $(SHARE)/man/man1/tcpkeep.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tcpkeep $(DESTDIR)$(PREFIX)/lib/tcpkeep/libtcpkeep.so
	rm -f $(addprefix $(SHARE)/tcpkeep/,$(EXAMPLES) $(AUDIT_UNITS))
	rm -f $(SHARE)/bash-completion/completions/tcpkeep $(SHARE)/zsh/site-functions/_tcpkeep \
		$(SHARE)/fish/vendor_completions.d/tcpkeep.fish $(SHARE)/man/man1/tcpkeep.1
	-rmdir $(sort $(dir $(addprefix $(SHARE)/tcpkeep/,$(EXAMPLES)))) $(SHARE)/tcpkeep $(DESTDIR)$(PREFIX)/lib/tcpkeep 2>/dev/null

check-install:
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	$(MAKE) --no-print-directory install DESTDIR="$$scratch" PREFIX=/opt/tcpkeep >/dev/null && \
	expected="export LD_PRELOAD='$$scratch/opt/tcpkeep/lib/tcpkeep/libtcpkeep.so'" && \
	actual=$$(env -u LD_PRELOAD "$$scratch/opt/tcpkeep/bin/tcpkeep" env) && \
	if [ "$$actual" != "$$expected" ]; then echo "installed tcpkeep did not find its shim: $$actual"; exit 1; fi && \
	share="$$scratch/opt/tcpkeep/share" && \
	for file in $(addprefix tcpkeep/,$(EXAMPLES)) bash-completion/completions/tcpkeep zsh/site-functions/_tcpkeep \
		fish/vendor_completions.d/tcpkeep.fish man/man1/tcpkeep.1; do \
		[ -s "$$share/$$file" ] || { echo "make install did not install share/$$file"; exit 1; }; \
	done && \
	grep -q "^ExecStart=/opt/tcpkeep/bin/tcpkeep audit" "$$share/tcpkeep/tcpkeep-audit.service" || { echo "the audit unit does not run the installed tcpkeep"; exit 1; }; \
	grep -q systemd "$$share/bash-completion/completions/tcpkeep" || { echo "the bash completion lacks the systemd command"; exit 1; }; \
	grep -q '^\.Sh' "$$share/man/man1/tcpkeep.1" || { echo "share/man/man1/tcpkeep.1 is no man page"; exit 1; }; \
	$(MAKE) --no-print-directory uninstall DESTDIR="$$scratch" PREFIX=/opt/tcpkeep && \
	if [ -n "$$(find "$$scratch" -type f)" ]; then echo "uninstall left files behind"; exit 1; fi && \
	echo "check-install: make install and make uninstall work (DESTDIR, PREFIX)"

clean:
	rm -rf .build
