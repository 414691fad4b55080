#!/usr/bin/env bash
# deploy/kubernetes on a real node, as far as podman goes: the DaemonSet's pod template, as
# `kubectl kustomize` renders it, played as a Pod with `podman kube play` (with its ConfigMap)
# from the image `make image` builds; then two workload pods of a static probe, one annotated
# `tcpkeep.io/profile: datacenter`, one not. A new connection from each must read back the
# datacenter values and the policy's default; /metrics must name the workload pod's container;
# a rolling update: a second agent beside the first must refuse and change nothing, the pins must
# keep the policy while no agent runs, and the next agent must adopt them (no second attachment)
# and cover a pod made meanwhile; after the workloads are torn down, the uninstall the docs give (`tcpkeep agent --uninstall`
# in the agent's container), then the agent's pod torn down, must leave no tcpkeep program
# attached and no pin. Run by `make check-kubernetes`, as root.
#   Tests/Programs/kubernetes_check.sh DEB
#
# What differs from a cluster: the pods share the host's network (podman maps no port on it, so
# the agent's `ports:` go, and its endpoint listens on loopback port 0, the log naming the port);
# podman 4.3 ignores `hostPID: true` (4.5 plays it), so a containers.conf with `pidns = "host"`
# gives the agent's pod the host's PID namespace instead; and the policy's `root:` is podman's
# parent of pods (libpod_parent here), not the whole host, so that other tests' processes on this
# machine are left alone. Everything the run made is removed on every exit path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 DEB" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "kubernetes_check: run as root" >&2; exit 2; }
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export CONTAINERS_CONF=$here/containers.conf
pins=/sys/fs/bpf/tcpkeep/agent
probe_image=localhost/tcpkeep-k8s-probe:test
agent_container=tcpkeep-agent-agent

fail() { echo "kubernetes_check: FAIL: $*" >&2; exit 1; }
[ ! -e "$pins" ] || fail "$pins exists already: another agent (or a test of one) runs on this machine; run this check alone"

work=$(mktemp -d)
server=
installed=   # 1 from the agent's start until its uninstall: the pins are this run's
# The DaemonSet makes the runtimes' folders a node lacks (containerd's, here): this run removes
# what it made.
made_containerd=
[ -e /run/containerd ] || made_containerd=1
# A node has bpffs at /sys/fs/bpf (systemd mounts it at boot), which the DaemonSet's hostPath
# hands to each agent's pod, so the pins outlive the pod; a machine without it gets one for the
# run, as a node would have it.
made_bpffs=
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf
	made_bpffs=1
fi
cleanup() {
	local status=$?
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	for pod in "$work"/work-*.yaml "$work"/agent*.yaml; do
		[ -e "$pod" ] && podman kube down "$pod" >/dev/null 2>&1 || true
	done
	# The agent's pins, if this run left them: removed by the image's own uninstall.
	if [ -n "$installed" ] && [ -e "$pins" ]; then
		podman run --rm --network none --cap-add BPF,PERFMON,NET_ADMIN,SYS_ADMIN -v /sys/fs/bpf:/sys/fs/bpf \
			-v /sys/fs/cgroup:/sys/fs/cgroup:ro "$image" agent --uninstall >/dev/null 2>&1 || true
	fi
	podman rmi -f "$probe_image" >/dev/null 2>&1 || true
	[ -z "$made_containerd" ] || rmdir /run/containerd/io.containerd.runtime.v2.task /run/containerd 2>/dev/null || true
	[ -z "$made_bpffs" ] || umount /sys/fs/bpf 2>/dev/null || true
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

image=$("$root/scripts/build-image" "$deb" | tail -n 1)
mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$mount" ] || fail "no cgroup v2 hierarchy is mounted here"

# The agent's pod: the DaemonSet's template, its ConfigMap beside it, changed as said above.
kubectl kustomize "$root/deploy/kubernetes" >"$work/rendered.yaml"
python3 - "$work/rendered.yaml" "$image" >"$work/agent.yaml" <<'PY'
import sys, yaml
rendered, image = sys.argv[1:]
objects = {o["kind"]: o for o in yaml.safe_load_all(open(rendered)) if o}
daemonset, configmap = objects["DaemonSet"], objects["ConfigMap"]
template = daemonset["spec"]["template"]
if template["spec"]["containers"][0]["image"] != image:
    sys.exit(f"the DaemonSet runs {template['spec']['containers'][0]['image']}, make image built {image}: keep kustomization.yaml's newTag in step")
policy = configmap["data"]["agent.yaml"].replace("listen: 0.0.0.0:24245", "root: libpod_parent\nlisten: 127.0.0.1:0")
if "root: libpod_parent" not in policy:
    sys.exit("the ConfigMap's policy has no `listen: 0.0.0.0:24245` line to change")
configmap["data"]["agent.yaml"] = policy
if not template["spec"].get("hostPID"):
    sys.exit("the DaemonSet's pod does not ask for the host's PID namespace")
del template["spec"]["containers"][0]["ports"]
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": dict(template["metadata"], name=daemonset["metadata"]["name"]), "spec": template["spec"]}
yaml.safe_dump_all([configmap, pod], sys.stdout, sort_keys=False)
PY

# The workloads' image: the static probe (connect and print its options) and holder (hold
# connections for the audit), nothing else.
mkdir "$work/probe"
gcc -static -O2 -o "$work/probe/probe" "$root/bpf/test/probe.c"
gcc -static -O2 -o "$work/probe/holder" "$here/holder.c"
tar -C "$work/probe" -c . | podman import -q - "$probe_image" >/dev/null
workload() { # workload NAME [ANNOTATION]: a pod whose container waits (a listener nobody calls)
	cat >"$work/$1.yaml" <<-EOF
		apiVersion: v1
		kind: Pod
		metadata:
		  name: $1
		  annotations: {${2:-}}
		spec:
		  containers:
		    - name: app
		      image: $probe_image
		      command: ["/probe", "serve"]
	EOF
	podman kube play --network host "$work/$1.yaml" >"$work/$1.play" 2>&1 || { cat "$work/$1.play" >&2; fail "podman kube play $1"; }
}

# The agent, from the image, as the DaemonSet's pod, in the host's PID namespace.
sed 's/^\[containers\]$/[containers]\npidns = "host"/' "$CONTAINERS_CONF" >"$work/containers-hostpid.conf"
agent_log() { podman logs "$agent_container" 2>&1; }
play_agent() { # play_agent FILE: the agent's pod played; sets listen
	CONTAINERS_CONF=$work/containers-hostpid.conf podman kube play --network host "$1" >"$1.play" 2>&1 ||
		{ cat "$1.play" >&2; fail "podman kube play of the DaemonSet's pod ($1)"; }
	listen=
	for _ in $(seq 100); do
		listen=$(agent_log | sed -n 's/.*policy applied.* listen=\([0-9.]*:[0-9]*\).*/\1/p' | head -n 1)
		[ -n "$listen" ] && break
		[ "$(podman inspect -f '{{.State.Running}}' "$agent_container" 2>/dev/null)" = true ] || break
		sleep 0.1
	done
	[ -n "$listen" ] || { agent_log >&2; fail "the agent's pod ($agent_container) did not apply its policy"; }
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$listen/healthz")" = 200 ] || fail "$agent_container's /healthz does not answer 200"
}
installed=1
play_agent "$work/agent.yaml"
echo "kubernetes_check: the DaemonSet's pod runs the agent from $image (metrics on $listen)"

workload work-datacenter '"tcpkeep.io/profile": datacenter'
workload work-plain
# Each container's cgroup, once the agent has logged it (matched to its rule or the default).
matched() { # matched POD ENTRY
	local id
	id=$(podman inspect -f '{{.ID}}' "$1-app")
	for _ in $(seq 100); do
		agent_log | grep "cgroup matched" | grep "libpod-$id" | grep -q "entry=$2" && return 0
		sleep 0.1
	done
	agent_log >&2
	fail "the agent never matched $1's container (libpod-$id) to '$2'"
}
matched work-datacenter datacenter
matched work-plain default
# podman records no pod namespace: the policy's namespace rule cannot judge the plain pod, and
# the log says so.
plain=$(podman inspect -f '{{.ID}}' work-plain-app)
agent_log | grep "libpod-$plain" | grep "node lacks a fact" | grep -q "kube-system: the container's runtime spec names no pod namespace" ||
	{ agent_log >&2; fail "no log line says why the namespace rule could not judge work-plain"; }
echo "kubernetes_check: the log says why the namespace rule could not judge a pod (podman records no namespace)"

# A new connection from each pod's container; the values the profile and the default stand for,
# as the image's tcpkeep resolves them.
expected() { # expected ENV_OPTIONS...: "count=C idle=I interval=N keepalive=1 user_timeout=U"
	podman run --rm --network none "$image" env "$@" |
		sed -n "s/^export \(KEEPIDLE\|KEEPINTVL\|KEEPCNT\|TCPKEEP_USER_TIMEOUT\)='\([0-9]*\)'$/\1=\2/p" |
		sed -e 's/^KEEPIDLE/idle/' -e 's/^KEEPINTVL/interval/' -e 's/^KEEPCNT/count/' -e 's/^TCPKEEP_USER_TIMEOUT/user_timeout/' |
		{ cat; echo keepalive=1; } | sort | paste -sd ' '
}
connect() { # connect POD: keepalive and the values its container's new connection got, sorted
	"$work/probe/probe" serve >"$work/server.$1" &
	server=$!
	local port= line
	for _ in $(seq 100); do
		port=$(sed -n 's/^port //p' "$work/server.$1")
		[ -n "$port" ] && break
		sleep 0.05
	done
	line=$(podman exec "$1-app" /probe connect "$port" | sed -n 's/^connected //p')
	wait "$server" 2>/dev/null || true
	server=
	printf '%s\n' $line | sort | paste -sd ' '
}
want=$(expected --profile datacenter)
got=$(connect work-datacenter)
[ "$want" != keepalive=1 ] && [ "$got" = "$want" ] || fail "the annotated pod's connection: expected '$want', got '$got'"
echo "kubernetes_check: the pod annotated tcpkeep.io/profile: datacenter got the datacenter values ($got)"
want=$(expected --detect-within 5m)
got=$(connect work-plain)
[ "$want" != keepalive=1 ] && [ "$got" = "$want" ] || fail "the pod without the annotation: expected the default '$want', got '$got'"
echo "kubernetes_check: the pod without the annotation got the ConfigMap's default ($got)"

# /metrics: the audit's connections of the workload's container, by its name. holder, run in
# the container, holds one until its standard input (this script's fd 7) closes.
mkfifo "$work/holder.in"
podman exec -i work-datacenter-app /holder 4:none <"$work/holder.in" >"$work/holder.out" 2>&1 &
exec 7>"$work/holder.in"
for _ in $(seq 100); do
	grep -q '^ready' "$work/holder.out" && break
	sleep 0.1
done
grep -q '^ready' "$work/holder.out" || { cat "$work/holder.out" >&2; fail "holder in work-datacenter-app did not get ready"; }
curl -s "http://$listen/metrics" >"$work/metrics"
exec 7>&-
grep -q '^tcpkeep_connections{process="holder",unit="",namespace="",container="work-datacenter-app",' "$work/metrics" ||
	{ grep '^tcpkeep_connections' "$work/metrics" >&2; fail "/metrics does not name the workload pod's container work-datacenter-app"; }
echo "kubernetes_check: /metrics names the workload pod's container (work-datacenter-app)"

# A rolling update (maxUnavailable 1, maxSurge 0): a second agent beside the first refuses and
# changes nothing; the first stops, and while no agent runs the pins keep the policy (a pod's new
# connection keeps its rule, a pod made meanwhile gets its parent's entry, the default); the new
# agent adopts the pins (no second attachment) and gives that pod its own rule.
policy_root=$mount/libpod_parent
attachments() { bpftool cgroup show "$policy_root" | grep -c tcpkeep || true; }
before=$(attachments)
[ "$before" -gt 0 ] || fail "bpftool lists no tcpkeep program on $policy_root while the agent runs"
first_listen=$listen
sed 's/^  name: tcpkeep-agent$/  name: tcpkeep-agent-second/' "$work/agent.yaml" >"$work/agent-second.yaml"
CONTAINERS_CONF=$work/containers-hostpid.conf podman kube play --network host "$work/agent-second.yaml" >"$work/agent-second.play" 2>&1 ||
	{ cat "$work/agent-second.play" >&2; fail "podman kube play of a second agent's pod"; }
for _ in $(seq 100); do
	podman logs tcpkeep-agent-second-agent 2>&1 | grep -q "another tcpkeep agent runs" && break
	sleep 0.1
done
podman logs tcpkeep-agent-second-agent 2>&1 | grep -q "another tcpkeep agent runs" ||
	{ podman logs tcpkeep-agent-second-agent >&2; fail "a second agent on the same node did not refuse"; }
podman kube down "$work/agent-second.yaml" >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "podman kube down of the second agent"; }
[ "$(attachments)" = "$before" ] || { bpftool cgroup show "$policy_root" >&2; fail "the refused second agent changed the attachments"; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$first_listen/healthz")" = 200 ] || fail "the first agent stopped answering after the second was refused"
echo "kubernetes_check: a second agent on the node refused, and changed nothing"

podman kube down "$work/agent.yaml" >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "podman kube down of the agent"; }
datacenter=$(expected --profile datacenter)
got=$(connect work-datacenter)
[ "$got" = "$datacenter" ] || fail "with no agent running, the annotated pod's new connection: expected '$datacenter', got '$got'"
workload work-late '"tcpkeep.io/profile": datacenter'
got=$(connect work-late)
[ "$got" = "$(expected --detect-within 5m)" ] || fail "a pod made while no agent runs: expected its parent's entry (the default), got '$got'"
echo "kubernetes_check: with no agent running, the pins kept the policy: the annotated pod's rule, the default for a pod made meanwhile"

agent_container=tcpkeep-agent-next-agent
sed 's/^  name: tcpkeep-agent$/  name: tcpkeep-agent-next/' "$work/agent.yaml" >"$work/agent-next.yaml"
play_agent "$work/agent-next.yaml"
[ "$(attachments)" = "$before" ] || { bpftool cgroup show "$policy_root" >&2; fail "the next agent attached again ($before programs before, $(attachments) after)"; }
# The first scan's matches are not logged one by one: the map is written before "policy applied".
got=$(connect work-late)
[ "$got" = "$datacenter" ] || fail "the next agent: the pod made meanwhile expected the datacenter values, got '$got'"
echo "kubernetes_check: the next agent adopted the pins ($before program(s) attached, as before: no second attachment) and gave the pod made meanwhile its rule"

# Tear down: the workloads, then the uninstall in the agent's container, then the agent.
# podman 4.3 complains, harmlessly, that no systemd timer runs the probes' healthchecks.
down() { podman kube down "$work/$1.yaml" >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "podman kube down $1"; }; }
down work-datacenter
down work-plain
down work-late
podman exec "$agent_container" /usr/bin/tcpkeep agent --uninstall >"$work/uninstall.out" 2>&1 ||
	{ cat "$work/uninstall.out" >&2; fail "tcpkeep agent --uninstall in the agent's container failed"; }
installed=
down agent-next
for cgroup in "$policy_root" "$mount"; do
	! bpftool cgroup show "$cgroup" | grep -q tcpkeep || { bpftool cgroup show "$cgroup" >&2; fail "a tcpkeep program is still attached to $cgroup"; }
done
[ ! -e "$pins" ] || { ls -la "$pins" >&2; cat "$work/uninstall.out" >&2; fail "the uninstall left $pins"; }
echo "kubernetes_check: after the uninstall no tcpkeep program is attached ($policy_root, $mount) and no pin is left"
