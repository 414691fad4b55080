#!/usr/bin/env python3
"""How long `tcpkeep audit` takes on a host with many connections, against ss and netstat.

Opens CONNECTIONS established loopback connections (both ends open: twice as many sockets),
spread over several holder processes since one process may open at most 20,000 files here,
then runs, interleaved, ROUNDS times each: `tcpkeep audit` (with process mapping),
`ss -tnop state established` and `netstat -tnop`. Reports the median wall time of each, its
ratio to `ss -tnop` measured in the same run, and the peak memory (max RSS) of each command.

    bench/audit-connections.py TCPKEEP [CONNECTIONS] [ROUNDS]
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


def hold(count):
    """In a child: open `count` connections to a listener of its own, report, and wait."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * count + 64), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held = []
    # Closed with a reset when the holder is killed, so no TIME_WAIT rows are left to slow the
    # next run.
    no_linger = struct.pack("ii", 1, 0)
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        for end in (client, server):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, no_linger)
        held += [client, server]
    sys.stdout.write("ready\n")
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
    for holder in holders:
        if holder.stdout.readline().strip() != "ready":
            sys.exit("a holder failed to open its connections")
    return holders


def measure(command):
    """Wall seconds and peak RSS in MiB of one run of `command`. GNU time reads the peak: a
    child forked from Python would count Python's own memory in it."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.monotonic()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name] + command,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.monotonic() - start
        if result.returncode not in (0, 1):
            sys.exit(f"{command[0]} failed with status {result.returncode}")
        return elapsed, int(peak.read().split()[-1]) / 1024


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--hold":
        hold(int(sys.argv[2]))
        return
    tcpkeep = sys.argv[1]
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    commands = {
        "tcpkeep audit": [tcpkeep, "audit"],
        "tcpkeep audit --format json": [tcpkeep, "audit", "--format", "json"],
        "ss -tnop state established": ["ss", "-tnop", "state", "established"],
        "netstat -tnop": ["netstat", "-tnop"],
        "cat /proc/net/tcp": ["cat", "/proc/net/tcp"],
    }
    holders = start_holders(connections)
    try:
        results = {name: [] for name in commands}
        for round in range(rounds):
            names = list(commands)
            for name in names[round % len(names):] + names[:round % len(names)]:
                results[name].append(measure(commands[name]))
    finally:
        for holder in holders:
            holder.kill()
    baseline = statistics.median(t for t, _ in results["ss -tnop state established"])
    print(f"{connections} established loopback connections ({2 * connections} sockets, "
          f"{len(holders)} processes), median of {rounds} interleaved runs")
    print(f"{'command':32} {'seconds':>8} {'vs ss -tnop':>12} {'peak MiB':>9}")
    for name, samples in results.items():
        seconds = statistics.median(t for t, _ in samples)
        peak = max(m for _, m in samples)
        print(f"{name:32} {seconds:8.3f} {seconds / baseline:11.2f}x {peak:9.1f}")


if __name__ == "__main__":
    main()
