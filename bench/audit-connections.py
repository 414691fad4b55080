#!/usr/bin/env python3
"""How long `tcpkeep audit` takes on a busy host, and how much memory, against `ss`.

Part one, the targets: CONNECTIONS established loopback connections (both ends open: twice as
many sockets; 20,000 gives 40,000), spread over holder processes since one process may open at
most 20,000 files here, plus at least 20,000 sockets in TIME_WAIT (loopback connections closed
from the client side just before). Then, interleaved, ROUNDS times each: `tcpkeep audit` in
every format, with `--port` for one port, with `--source proc`, with `--owners proc` (the
/proc/*/fd walk instead of the BPF iterator), two runs that show where the time goes (no
owners looked for; the owners with nothing to format), `ss -tnop state established`,
`ss -tno state established` and `cat /proc/net/tcp`. Reports the median wall time of each, its
ratio to `ss -tnop state established` measured in the same run, and the peak memory (max RSS).

Part two, the scale: 10,000, 40,000 and 100,000 established sockets, the three formats and
`ss -tnop` interleaved, each with its time per 10,000 sockets: flat when the cost grows linearly.

    bench/audit-connections.py TCPKEEP [CONNECTIONS] [ROUNDS] [--no-scale]
"""
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

PER_PROCESS = 5000  # connections, so 10,000 descriptors a holder
# Client-closed connections over four listeners: on loopback the kernel reuses a TIME_WAIT
# socket's port for a new connection to the same listener (tcp_tw_reuse = 2), so more are
# made than the 20,000 wanted to stay.
TIME_WAIT = 30000
LISTENERS = 4
SS = "ss -tnop state established"


def hold(count):
    """In a child: open `count` connections to a listener of its own, report, and wait."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * count + 64), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held = []
    # Closed with a reset when the holder is killed, so no TIME_WAIT rows are left to slow the
    # next run: the TIME_WAIT load is made on purpose, below.
    no_linger = struct.pack("ii", 1, 0)
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        for end in (client, server):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, no_linger)
        held += [client, server]
    # One client's port: `--port` with it selects one connection, both its ends.
    sys.stdout.write(f"ready {held[0].getsockname()[1]}\n")
    sys.stdout.flush()
    sys.stdin.read()


def start_holders(connections):
    holders = []
    remaining = connections
    while remaining > 0:
        count = min(PER_PROCESS, remaining)
        holder = subprocess.Popen([sys.executable, __file__, "--hold", str(count)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        remaining -= count
    ports = []
    for holder in holders:
        line = holder.stdout.readline().split()
        if not line or line[0] != "ready":
            stop_holders(holders)
            sys.exit("a holder failed to open its connections")
        ports.append(int(line[1]))
    return holders, ports


def stop_holders(holders):
    for holder in holders:
        holder.kill()
        holder.wait()


def make_time_wait(count):
    """`count` loopback connections, each closed by its client first: TIME_WAIT for 60 s."""
    listeners = []
    for _ in range(LISTENERS):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        listeners.append(listener)
    for index in range(count):
        listener = listeners[index % LISTENERS]
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        client.close()
        server.close()
    for listener in listeners:
        listener.close()


def count_state(state):
    result = subprocess.run(["ss", "-tanH", "state", state], capture_output=True, text=True)
    return len(result.stdout.splitlines())


def measure(command):
    """Wall seconds and peak RSS in MiB of one run of `command`. GNU time reads the peak: a
    child forked from Python would count Python's own memory in it."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.monotonic()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name] + command,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.monotonic() - start
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed with status {result.returncode}")
        return elapsed, int(peak.read().split()[-1]) / 1024


def interleave(commands, rounds):
    """Each command `rounds` times, the order rotated every round; {name: [(seconds, MiB)]}."""
    results = {name: [] for name in commands}
    names = list(commands)
    for round in range(rounds):
        for name in names[round % len(names):] + names[:round % len(names)]:
            results[name].append(measure(commands[name]))
    return results


def targets(tcpkeep, connections, rounds):
    holders, ports = start_holders(connections)
    try:
        make_time_wait(TIME_WAIT)
        time_wait_before = count_state("time-wait")
        commands = {
            "tcpkeep audit": [tcpkeep, "audit"],
            "tcpkeep audit --format json": [tcpkeep, "audit", "--format", "json"],
            "tcpkeep audit --format prometheus": [tcpkeep, "audit", "--format", "prometheus"],
            "tcpkeep audit --port P": [tcpkeep, "audit", "--port", str(ports[-1])],
            "tcpkeep audit --source proc": [tcpkeep, "audit", "--source", "proc"],
            "tcpkeep audit --owners proc": [tcpkeep, "audit", "--owners", "proc"],
            "  sockets only (--pid 1)": [tcpkeep, "audit", "--pid", "1"],
            "  owners, nothing shown": [tcpkeep, "audit", "--process", "no-such-process"],
            SS: ["ss", "-tnop", "state", "established"],
            "ss -tno state established": ["ss", "-tno", "state", "established"],
            "cat /proc/net/tcp": ["cat", "/proc/net/tcp"],
        }
        results = interleave(commands, rounds)
        time_wait_after = count_state("time-wait")
    finally:
        stop_holders(holders)
    baseline = statistics.median(t for t, _ in results[SS])
    print(f"{connections} established loopback connections ({2 * connections} sockets, {len(holders)} processes) "
          f"and {min(time_wait_before, time_wait_after)}-{max(time_wait_before, time_wait_after)} in TIME_WAIT, "
          f"median of {rounds} interleaved runs")
    print(f"{'command':36} {'seconds':>8} {'vs ss -tnop':>12} {'peak MiB':>9}")
    for name, samples in results.items():
        seconds = statistics.median(t for t, _ in samples)
        peak = max(m for _, m in samples)
        print(f"{name:36} {seconds:8.3f} {seconds / baseline:11.2f}x {peak:9.1f}")


def scale(tcpkeep, rounds):
    print()
    print(f"scale: established sockets, median of {rounds} interleaved runs; ms per 10,000 sockets in brackets")
    header = f"{'sockets':>8} {'processes':>9}"
    for name in ("table", "json", "prometheus", SS):
        header += f" {name:>26}"
    print(header + f" {'peak MiB (max)':>15}")
    for sockets in (10000, 40000, 100000):
        holders, _ = start_holders(sockets // 2)
        try:
            commands = {
                "table": [tcpkeep, "audit"],
                "json": [tcpkeep, "audit", "--format", "json"],
                "prometheus": [tcpkeep, "audit", "--format", "prometheus"],
                SS: ["ss", "-tnop", "state", "established"],
            }
            results = interleave(commands, rounds)
        finally:
            stop_holders(holders)
        baseline = statistics.median(t for t, _ in results[SS])
        line = f"{sockets:>8} {len(holders):>9}"
        for name, samples in results.items():
            seconds = statistics.median(t for t, _ in samples)
            cell = f"{seconds:.3f}s {seconds / baseline:.2f}x [{seconds * 1000 / (sockets / 10000):.0f}]"
            line += f" {cell:>26}"
        peak = max(m for name, samples in results.items() if name != SS for _, m in samples)
        print(line + f" {peak:15.1f}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--hold":
        hold(int(sys.argv[2]))
        return
    arguments = [a for a in sys.argv[1:] if a != "--no-scale"]
    tcpkeep = arguments[0]
    connections = int(arguments[1]) if len(arguments) > 1 else 20000
    rounds = int(arguments[2]) if len(arguments) > 2 else 7
    targets(tcpkeep, connections, rounds)
    if "--no-scale" not in sys.argv:
        scale(tcpkeep, max(3, rounds - 2))


if __name__ == "__main__":
    main()
