#!/bin/sh
# Builds Tests/Programs/sock_diag_check.c against Sources/CLinux/sock_diag.c and runs it (as
# root: it creates network namespaces). Both compilers build it with -Wall -Wextra -Werror
# when both are there; CC picks the one that runs (default cc).
#   Tests/Programs/sock_diag_check.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
cleanup() {
	# The program removes its namespaces itself; this catches a run that was killed.
	for ns in tcpkeep-diag-test tcpkeep-diag-a tcpkeep-diag-b; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
flags="-std=gnu11 -O2 -g -Wall -Wextra -Werror -I$root/Sources/CLinux/include"
for compiler in gcc clang; do
	if command -v "$compiler" >/dev/null 2>&1; then
		"$compiler" $flags -o "$work/sock_diag_check.$compiler" "$here/sock_diag_check.c" "$root/Sources/CLinux/sock_diag.c"
	fi
done
${CC:-cc} $flags -o "$work/sock_diag_check" "$here/sock_diag_check.c" "$root/Sources/CLinux/sock_diag.c"
"$work/sock_diag_check"
