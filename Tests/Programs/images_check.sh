#!/usr/bin/env bash
# doc/images.md, checked: its Containerfiles (Debian, Alpine) built as they are written there
# with podman, a test program (Tests/Programs/probe.c, linked for the image's C library) added
# and run, and its pod spec played with `podman kube play` on the Debian image; the program's
# sockets must read back SO_KEEPALIVE=1 and the values the snippet sets. Run by
# `make check-images`, as root.
#   Tests/Programs/images_check.sh SHIMDIR      (SHIMDIR/TRIPLET/libtcpkeep.so: make shims)
#
# No registry is reachable: the bases are made here and imported under the names the
# Containerfiles use, unless an image of that name exists already. The Debian one is a
# debootstrap'd Debian 12 root (scripts/debian-base-image). The "Alpine" one is not Alpine: a
# musl-only root made from Debian's musl (its loader, with Alpine's libc.musl link), which is
# what the shim meets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 SHIMDIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "images_check: run as root" >&2; exit 2; }
shimdir=$(cd "$1" && pwd)
doc=$root/doc/images.md
arch=$(uname -m)
tag=localhost/app-with-tcpkeep

work=$(mktemp -d)
stand_in=  # the musl stand-in for Alpine, when this run imported it: removed again
cleanup() {
	podman kube down "$work/pod.yaml" >/dev/null 2>&1 || true
	podman rmi -f "$tag:debian" "$tag:alpine" $stand_in >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
failed=0
expect() { # expect WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || { echo "images_check: FAIL: $1: expected '$2', got '$3'" >&2; failed=1; }
}

# podman on this kind of host: runc, cgroupfs, ulimits within the hard limits.
export CONTAINERS_CONF=$here/containers.conf

# The code block after the line <!-- check-images: NAME --> in doc/images.md.
snippet() {
	awk -v marker="<!-- check-images: $1 -->" '
		$0 == marker { found = 1; next }
		found && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' "$doc"
}

# The values of the keys NAMES on the line labelled LABEL.
values() { # values FILE LABEL NAME...
	awk -v label="$2" -v names="${*:3}" '$1 == label {
		n = split(names, wanted, " "); out = ""
		for (i = 1; i <= n; i++) for (f = 2; f <= NF; f++) if (index($f, wanted[i] "=") == 1) out = out (out ? " " : "") $f
		print out; exit }' "$1"
}

# The bases.
"$root/scripts/debian-base-image"
if ! podman image exists docker.io/library/alpine:3.20; then
	musl_root=$work/musl-root
	mkdir -p "$musl_root/lib" "$musl_root/usr/local/lib"
	cp "/usr/lib/$arch-linux-musl/libc.so" "$musl_root/lib/ld-musl-$arch.so.1"
	ln -s "ld-musl-$arch.so.1" "$musl_root/lib/libc.musl-$arch.so.1"
	tar -C "$musl_root" -c . | podman import -q - docker.io/library/alpine:3.20 >/dev/null
	stand_in=docker.io/library/alpine:3.20
fi

# The build context: the shims as make dist-shims lays them out, and the test programs.
context=$work/context
for abi in "$arch-linux-gnu" "$arch-linux-musl"; do
	install -D -m 644 "$shimdir/$abi/libtcpkeep.so" "$context/$abi/libtcpkeep.so"
	"$abi-gcc" -std=gnu11 -O1 -Wall -Wextra -Werror -pthread -o "$context/probe-$abi" "$here/probe.c"
done

run_image() { # run_image NAME OUTPUT [podman run options...]: the probe on IPv4 and IPv6 loopback
	local name=$1 output=$2
	shift 2
	: >"$output"
	for family in 4 6; do
		podman run --rm --network none "$@" "$tag:$name" /usr/local/bin/probe accept "$family" >>"$output" 2>&1 ||
			{ cat "$output" >&2; echo "images_check: FAIL: the $name image's probe failed" >&2; failed=1; }
	done
}

for image in debian:gnu alpine:musl; do
	name=${image%:*} abi=$arch-linux-${image#*:}
	{
		snippet "$name" | sed "s|x86_64-linux-|$arch-linux-|"
		printf 'COPY probe-%s /usr/local/bin/probe\n' "$abi"
		printf 'CMD ["/usr/local/bin/probe", "accept", "6"]\n'
	} >"$work/Containerfile.$name"
	grep -q '^FROM ' "$work/Containerfile.$name" || { echo "images_check: no '$name' Containerfile in $doc" >&2; exit 1; }
	podman build --pull=never -q -t "$tag:$name" -f "$work/Containerfile.$name" "$context" >/dev/null
	run_image "$name" "$work/$name.out"
	configured=$(awk '$1 ~ /^(listener|client|accepted|accepted4)$/ && $0 ~ / keepalive=1 idle=60 intvl=10 cnt=6 user_timeout=120000$/' \
		"$work/$name.out" | wc -l)
	expect "$name image: sockets with keepalive and the values, of listener, client, accepted, accepted4 on IPv4 and IPv6" 8 "$configured"
	# The same image with LD_PRELOAD emptied: the probe itself sets nothing.
	run_image "$name" "$work/$name-bare.out" --env LD_PRELOAD=
	expect "$name image without the shim" "keepalive=0" "$(values "$work/$name-bare.out" client keepalive)"
	echo "images_check: built and ran the $name Containerfile's image"
done

# The pod spec, on the Debian image: its env over the image's.
snippet pod >"$work/pod.yaml"
grep -q "image: $tag:debian" "$work/pod.yaml" || { echo "images_check: the pod spec does not run $tag:debian" >&2; exit 1; }
podman kube play --network none "$work/pod.yaml" >"$work/play.log" 2>&1 || { cat "$work/play.log" >&2; exit 1; }
container=app-app
podman wait "$container" >/dev/null
podman logs "$container" >"$work/pod.out" 2>&1
expect "the pod's accepted socket" "keepalive=1 idle=30 intvl=5 cnt=4 user_timeout=120000" \
	"$(values "$work/pod.out" accepted keepalive idle intvl cnt user_timeout)"
expect "the pod's client socket" "keepalive=1 idle=30 intvl=5 cnt=4 user_timeout=120000" \
	"$(values "$work/pod.out" client keepalive idle intvl cnt user_timeout)"
[ "$failed" -eq 0 ] || exit 1
echo "images_check: doc/images.md's Containerfiles (Debian, musl) and pod spec give the program keepalive"
