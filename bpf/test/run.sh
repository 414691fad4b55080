#!/usr/bin/env bash
# Builds tcpkeep's BPF objects (bpf/build), the C loader and the test programs, then runs
# bpf/test/attach_check.c as root in a private mount namespace (it mounts and unmounts bpffs
# at /sys/fs/bpf there, never on the host), and bpf/test/holders_check.c (the audit's socket
# holders iterator). Both run even when the first fails; the script fails if either did.
#
#   sudo bpf/test/run.sh          (CLANG=/path/to/clang to choose the compiler for -target bpf)
#
# Needs: a clang that targets bpf (the Swift toolchain's does), gcc with static glibc,
# libbpf1 (the loader opens it), libbpf-dev (the checks read the kernel's view with it),
# iproute2 (ss, ip mptcp), util-linux (unshare, setpriv), golang-go.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
clang=${CLANG:-$(command -v clang || echo /opt/swift/usr/bin/clang)}
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root" >&2; exit 2; }

work=$(mktemp -d /tmp/tcpkeep-bpf-test.XXXXXX)
chmod 755 "$work" # attach_check re-runs itself as nobody
mptcp_was=
cleanup() {
	rm -rf "$work"
	[ -z "$mptcp_was" ] || sysctl -qw net.mptcp.enabled="$mptcp_was"
}
trap cleanup EXIT

"$here/bpf/build" "$clang" "$work"
export TCPKEEP_BPF_OBJECTS=$work
# The C target CTCPKeepBPF, as SwiftPM builds it: every C file of Sources/CTCPKeepBPF.
library=("$here"/Sources/CTCPKeepBPF/*.c)
for check in attach_check holders_check; do
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I "$here/Sources/CTCPKeepBPF/include" \
		"${library[@]}" "$here/bpf/test/tap.c" "$here/bpf/test/objects.c" "$here/bpf/test/$check.c" \
		-lbpf -pthread -o "$work/$check"
done
gcc -static -O2 -Wall -Wextra -Werror -o "$work/probe" "$here/bpf/test/probe.c"
(cd "$here/bpf/test/goclient" && CGO_ENABLED=0 go build -o "$work/goclient" main.go)

if [ "$(sysctl -n net.mptcp.enabled 2>/dev/null || echo 1)" = 0 ]; then
	mptcp_was=0
	sysctl -qw net.mptcp.enabled=1
fi

status=0
unshare --mount --propagation private -- "$work/attach_check" "$work/probe" "$work/goclient" || status=1
"$work/holders_check" || status=1
exit "$status"
