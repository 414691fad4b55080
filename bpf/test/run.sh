#!/usr/bin/env bash
# Builds tcpkeep's BPF object, the C loader and the test programs, then runs
# bpf/test/attach_check.c as root in a private mount namespace (it mounts and
# unmounts bpffs at /sys/fs/bpf there, never on the host).
#
#   sudo bpf/test/run.sh          (CLANG=/path/to/clang to choose the compiler for -target bpf)
#
# Needs: a clang that targets bpf (the Swift toolchain's does), gcc with static glibc,
# libbpf-dev, bpftool, iproute2 (ss, ip mptcp), util-linux (unshare, setpriv), golang-go.
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

multiarch=$(gcc -print-multiarch 2>/dev/null || true)
"$clang" -target bpf -mcpu=v3 -O2 -g -Wall -Wextra -Werror ${multiarch:+-idirafter /usr/include/$multiarch} \
	-c "$here/bpf/tcpkeep.bpf.c" -o "$work/tcpkeep.bpf.o"
"$clang" -E -P -std=c23 -x c --embed-dir="$work" "$here/bpf/embed.c.in" -o "$work/tcpkeep_bpf_object.c"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I "$here/Sources/CTCPKeepBPF/include" \
	"$here/Sources/CTCPKeepBPF/loader.c" "$work/tcpkeep_bpf_object.c" "$here/bpf/test/attach_check.c" \
	-lbpf -o "$work/attach_check"
gcc -static -O2 -Wall -Wextra -Werror -o "$work/probe" "$here/bpf/test/probe.c"
(cd "$here/bpf/test/goclient" && CGO_ENABLED=0 go build -o "$work/goclient" main.go)

if [ "$(sysctl -n net.mptcp.enabled 2>/dev/null || echo 1)" = 0 ]; then
	mptcp_was=0
	sysctl -qw net.mptcp.enabled=1
fi

unshare --mount --propagation private -- "$work/attach_check" "$work/probe" "$work/goclient"
