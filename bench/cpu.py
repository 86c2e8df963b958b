"""CPU time of the processes under test, from /proc (Linux), to tell how many cores each used."""

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_s() -> float:
    """CPU seconds every core spent on anything but idle and iowait since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK


def child_named(name: str) -> int | None:
    """The pid of this process's child called `name` (the embedded broker), if any."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if comm.split("(", 1)[1] == name and int(rest.split()[1]) == me:
            return int(entry.name)
    return None


class CpuMeter:
    """Cores used by the server, the broker, the load generator and everything else, between
    construction and read()."""

    def __init__(self, server_pid: int, broker: str = "tansu") -> None:
        self.server_pid = server_pid
        self.broker_pid = child_named(broker)
        self.started = time.monotonic()
        self.server = process_cpu_s(server_pid)
        self.broker = process_cpu_s(self.broker_pid) if self.broker_pid else 0.0
        self.machine = machine_busy_s()

    def read(self, client_cpu_s: float) -> dict[str, float]:
        wall = time.monotonic() - self.started
        server = process_cpu_s(self.server_pid) - self.server
        broker = process_cpu_s(self.broker_pid) - self.broker if self.broker_pid else 0.0
        machine = machine_busy_s() - self.machine
        cores = {
            "server": server / wall,
            "broker": broker / wall,
            "client": client_cpu_s / wall,
            "machine": machine / wall,
            "other": (machine - server - broker - client_cpu_s) / wall,
        }
        return {name: round(value, 2) for name, value in cores.items()}
