#!/usr/bin/env bash
# The shim on each ABI it is built for: Tests/Programs/probe.c linked for that ABI (TRIPLET-gcc:
# Debian's cross compilers and musl wrappers), run with the ABI's libtcpkeep.so preloaded, on
# this machine or, for another architecture, under qemu-user. It checks the contract the native
# tests (Tests/TCPKeepEndToEndTests/ShimTests.swift) check, and what each library links and
# exports; run by `make check-shims`.
#   Tests/Programs/shim_abi_check.sh SHIMDIR TRIPLET...     (SHIMDIR/TRIPLET/libtcpkeep.so)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 SHIMDIR TRIPLET..." >&2; exit 2; }
shimdir=$(cd "$1" && pwd)
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
checks=0
check() { # check WHAT CONDITION-STATUS
	checks=$((checks + 1))
	if [ "$2" -ne 0 ]; then
		echo "shim_abi_check: FAIL: $abi: $1" >&2
		failed=1
	fi
}
expect() { # expect WHAT EXPECTED ACTUAL
	local status=0
	[ "$2" = "$3" ] || status=1
	check "$1: expected '$2', got '$3'" "$status"
}

settings=(KEEPIDLE=30 KEEPINTVL=5 KEEPCNT=4 TCPKEEP_USER_TIMEOUT=25000)
configured="keepalive=1 idle=30 intvl=5 cnt=4 user_timeout=25000"

# The key=value pairs NAMES of each line labelled LABEL, in that order.
values() { # values FILE LABEL NAME...
	awk -v label="$2" -v names="${*:3}" '$1 == label {
		n = split(names, wanted, " "); out = ""
		for (i = 1; i <= n; i++) for (f = 2; f <= NF; f++) if (index($f, wanted[i] "=") == 1) out = out (out ? " " : "") $f
		print out }' "$1"
}

# run NAME ENV... -- ARGS...: the probe with ENV, its output in $work/NAME.out, .err, .status.
run() {
	local name=$1 variables=()
	shift
	while [ "$1" != -- ]; do variables+=("$1"); shift; done
	shift
	local status=0
	env "${runner_env[@]}" "${variables[@]}" "${runner[@]}" "$probe" "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
	echo "$status" >"$work/$name.status"
}
preloaded() { local name=$1; shift; run "$name" LD_PRELOAD="$shim" "$@"; }

host=$(uname -m)
for abi in "$@"; do
	arch=${abi%%-*}
	shim=$shimdir/$abi/libtcpkeep.so
	[ -f "$shim" ] || { echo "shim_abi_check: no $shim (make shims builds it)" >&2; exit 1; }
	probe=$work/probe-$abi
	"$abi-gcc" -std=gnu11 -O1 -Wall -Wextra -Werror -pthread -o "$probe" "$here/probe.c"
	runner=() runner_env=()
	if [ "$arch" != "$host" ]; then
		runner=("qemu-$arch-static")
		# qemu-user finds the program's loader under the prefix first, then on the host (where
		# musl:ARCH puts /lib/ld-musl-ARCH.so.1).
		case $abi in *-gnu) runner_env=(QEMU_LD_PREFIX="/usr/$abi") ;; esac
	fi

	# What the library is: the ABI's machine, its libc alone, two symbols.
	machine=$(readelf -h "$shim" | sed -n 's/^ *Machine: *//p')
	case $arch in x86_64) expected="Advanced Micro Devices X86-64" ;; aarch64) expected=AArch64 ;; esac
	expect "ELF machine" "$expected" "$machine"
	needed=$(readelf -d -W "$shim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
	# glibc's aarch64 stack-protector canary, __stack_chk_guard, lives in its loader.
	case $abi in
	*-musl) expected="libc.musl-$arch.so.1 " ;;
	aarch64-linux-gnu) expected="ld-linux-aarch64.so.1 libc.so.6 " ;;
	*) expected="libc.so.6 " ;;
	esac
	expect "NEEDED" "$expected" "$needed"
	exports=$(nm -D --defined-only "$shim" | awk '{ print $NF }' | sort | tr '\n' ' ')
	expect "exported symbols" "setsockopt socket " "$exports"
	interpreter=$(readelf -l "$probe" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	case $abi in *-musl) expected=/lib/ld-musl-$arch.so.1 ;; *) expected=$interpreter ;; esac
	expect "the probe's loader" "$expected" "$interpreter"

	# Keepalive and the three values (and the user timeout) on IPv4 and IPv6 sockets: the
	# listener, a client, and sockets from accept and accept4. Without the shim, none.
	for family in 4 6; do
		run "bare$family" -- accept "$family"
		expect "IPv$family without the shim" "keepalive=0" "$(values "$work/bare$family.out" client keepalive)"
		preloaded "accept$family" "${settings[@]}" -- accept "$family"
		expect "IPv$family exit status" 0 "$(cat "$work/accept$family.status")"
		expect "IPv$family stderr" "" "$(cat "$work/accept$family.err")"
		for label in listener client accepted accepted4; do
			expect "IPv$family $label" "$configured" \
				"$(values "$work/accept$family.out" "$label" keepalive idle intvl cnt user_timeout)"
		done
	done

	# errno as socket() left it, in a process and a forked child.
	preloaded fork "${settings[@]}" -- fork
	for label in child parent; do
		expect "errno after socket() in the $label" "errno=4242" "$(values "$work/fork.out" "$label" errno)"
		expect "$label's socket" "$configured" "$(values "$work/fork.out" "$label" keepalive idle intvl cnt user_timeout)"
	done

	# Every family x type x flags x protocol: TCP gets the settings, the rest (UDP among them)
	# is exactly as without the shim; one failure reported once at most (MPTCP refuses
	# TCP_USER_TIMEOUT on some kernels).
	run bare-matrix -- matrix
	preloaded matrix "${settings[@]}" -- matrix
	mismatches=$(paste -d '\n' "$work/bare-matrix.out" "$work/matrix.out" | awk -v configured="$configured" '
		function field(line, name,   n, parts, i) {
			n = split(line, parts, " ")
			for (i = 2; i <= n; i++) if (index(parts[i], name "=") == 1) return substr(parts[i], length(name) + 2)
			return ""
		}
		# Lines alternate: without the shim, then with it. SOCK_NONBLOCK and SOCK_CLOEXEC are
		# high bits of the type here (x86_64, aarch64), hence the type modulo 256.
		NR % 2 == 1 { bare = $0; next }
		{
			domain = field($0, "domain"); type = field($0, "type") % 256; protocol = field($0, "protocol")
			tcp = (domain == 2 || domain == 10) && type == 1 && (protocol == 0 || protocol == 6 || protocol == 262)
			if (field($0, "result") != field(bare, "result") || field($0, "errno") != field(bare, "errno")) {
				print "socket() differs: " $0; next
			}
			if (field($0, "result") != "ok") next
			if (!tcp) { if ($0 != bare) print "not TCP, changed: " $0 " (alone: " bare ")"; next }
			tcps++
			n = split(configured, want, " ")
			for (i = 1; i <= n; i++) {
				split(want[i], pair, "=")
				expected = field(bare, pair[1]) == "-" ? "-" : pair[2]
				if (field($0, pair[1]) != expected) print "TCP without " want[i] ": " $0
			}
		}
		END { if (tcps < 16) print "only " tcps " TCP sockets" }')
	expect "socket matrix" "" "$mismatches"
	expect "socket matrix lines" "$(wc -l <"$work/bare-matrix.out")" "$(wc -l <"$work/matrix.out")"
	stray=$(grep -vE '\(MPTCP\): setting TCP_USER_TIMEOUT failed: E[A-Z]+ \(reported once\)$' "$work/matrix.err" || true)
	expect "socket matrix stderr" "" "$stray"
	expect "socket matrix stderr lines, at most" 1 "$(awk 'END { print (NR > 1 ? NR : 1) }' "$work/matrix.err")"

	# A bad value: one line on stderr however many sockets, that option alone left alone.
	preloaded bad "${settings[@]}" KEEPIDLE=1m -- accept 4
	expect "a bad KEEPIDLE's report" "tcpkeep: ignoring KEEPIDLE='1m': expected a whole number of seconds from 1 to 32767" \
		"$(cat "$work/bad.err")"
	expect "a bad KEEPIDLE's socket" "keepalive=1 $(values "$work/bare4.out" client idle) intvl=5 cnt=4 user_timeout=25000" \
		"$(values "$work/bad.out" client keepalive idle intvl cnt user_timeout)"

	# Enforce: weaker requests replaced, stricter ones kept, refused ones still refused, the
	# program seeing the result and errno it would see alone; a UDP socket left alone.
	requests=(keepalive=0 idle=7200 intvl=300 cnt=20 user_timeout=0 user_timeout=600000
		idle=10 intvl=2 cnt=2 user_timeout=1000 idle=40000 cnt=0 user_timeout=-1)
	run bare-enforce -- setopts tcp "${requests[@]}"
	preloaded enforce "${settings[@]}" TCPKEEP_ENFORCE=1 -- setopts tcp "${requests[@]}"
	expect "enforce: what the program sees" "$(values "$work/bare-enforce.out" set result errno)" \
		"$(values "$work/enforce.out" set result errno)"
	expect "enforce: the values in place" "1 30 5 4 25000 25000 10 2 2 1000 10 2 1000" \
		"$(values "$work/enforce.out" set value | sed 's/value=//' | tr '\n' ' ' | sed 's/ $//')"
	preloaded udp "${settings[@]}" TCPKEEP_ENFORCE=1 -- setopts udp keepalive=0
	expect "enforce on UDP" "value=0" "$(values "$work/udp.out" set value)"
	echo "shim_abi_check: $abi: ran${runner:+ under ${runner[*]}}"
done

[ "$failed" -eq 0 ] || exit 1
echo "shim_abi_check: $checks checks passed on $*"
