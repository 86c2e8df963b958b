"""`kizuna run`: the whole stack on one machine, in the foreground.

Starts the embedded broker (unless KIZUNA_KAFKA_BOOTSTRAP names one), creates the topics, makes
the demo tenant, then runs the four services as separate processes, restarts any that crashes,
and stops everything on Ctrl-C or SIGTERM. Tests use `Stack` the same way, on free ports.
"""

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from kizuna.broker import TansuBroker, port_open
from services.content.bootstrap import DemoKeys, ensure_demo_sync
from services.content.settings import ContentSettings
from shared import logs
from shared.kafka import create_topics, wait_for_broker
from shared.settings import KizunaSettings

log = logging.getLogger(__name__)

SERVICES = ("content", "ingest", "metrics", "rules")
DEFAULT_PORTS = {"ingest": 8001, "metrics": 8002, "rules": 8003, "content": 8004}


class StopRequested(Exception):
    """SIGTERM or Ctrl-C arrived while the stack was starting."""


class StackSettings(KizunaSettings):
    # Empty: start the embedded broker on broker_port.
    kafka_bootstrap: str = ""
    broker_port: int = 9092
    host: str = "127.0.0.1"
    ingest_port: int = DEFAULT_PORTS["ingest"]
    metrics_port: int = DEFAULT_PORTS["metrics"]
    rules_port: int = DEFAULT_PORTS["rules"]
    content_port: int = DEFAULT_PORTS["content"]

    def port(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.port(service)}"


@dataclass
class ServiceProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_file: IO[bytes] | None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        log.info("service_started", extra={"service": self.name, "pid": self.process.pid})

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Stack:
    def __init__(
        self,
        settings: StackSettings,
        log_dir: Path | None = None,
        service_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._log_dir = log_dir
        # Extra environment for the services, e.g. KIZUNA_WRITE_KEY_TTL_S in tests.
        self._service_env = service_env or {}
        self.broker: TansuBroker | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.demo: DemoKeys | None = None
        self._stopping = threading.Event()

    @property
    def bootstrap(self) -> str:
        if self.settings.kafka_bootstrap:
            return self.settings.kafka_bootstrap
        return f"{self.settings.host}:{self.settings.broker_port}"

    def start(self, ready_timeout_s: float = 90.0) -> DemoKeys:
        """Start everything and block until every service answers /healthz.

        Raises RuntimeError when a part does not come up in time."""
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        taken = [f"{self.settings.port(n)} ({n})" for n in SERVICES if self._port_taken(n)]
        if taken:
            raise RuntimeError(f"port(s) in use: {', '.join(taken)}; set KIZUNA_<SERVICE>_PORT")
        if not self.settings.kafka_bootstrap:
            self.broker = TansuBroker(
                self.settings.host, self.settings.broker_port, self._log("broker")
            )
            self.broker.start()
        self._prepare_topics()
        self.demo = ensure_demo_sync(ContentSettings(**self._shared_settings()))

        for name in SERVICES:
            self.services[name] = self._service(name)
            self.services[name].start()
        self.wait_ready(ready_timeout_s)
        return self.demo

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(SERVICES)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                if self._stopping.is_set():
                    raise StopRequested
                for name in sorted(pending):
                    if self._healthy(client, name):
                        pending.discard(name)
                    elif (code := self.services[name].exited()) is not None:
                        where = f"; see {self._log_dir / name}.log" if self._log_dir else ""
                        raise RuntimeError(f"{name} exited with code {code} while starting{where}")
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout_s:.0f} s: {', '.join(pending)}")
                if pending:
                    time.sleep(0.2)

    def supervise(self, poll_s: float = 0.5) -> None:
        """Restart what crashes until stop() is called (or SIGTERM / Ctrl-C arrives)."""
        while not self._stopping.wait(poll_s):
            if self.broker is not None and not self.broker.alive:
                log.error("broker_died")
                self.restart_broker()
            for service in self.services.values():
                self._restart_if_exited(service)

    def restart_broker(self) -> None:
        """Start the embedded broker again and re-create its topics: Tansu keeps nothing."""
        if self.broker is None:
            raise RuntimeError("this stack uses an external broker")
        self.broker.start()
        self._prepare_topics()

    def request_stop(self) -> None:
        """Safe from a signal handler: supervise() returns, and its caller calls stop()."""
        self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        for name in reversed(SERVICES):
            if name in self.services:
                self.services[name].stop()
        if self.broker is not None:
            self.broker.stop()
        log.info("stack_stopped")

    def _restart_if_exited(self, service: ServiceProcess) -> None:
        code = service.exited()
        if code is None or self._stopping.is_set():
            return
        now = time.monotonic()
        if service.next_start == 0.0:
            # Back off 1, 2, 4 ... 30 s while it keeps crashing; a minute of health resets it.
            if now - service.started_at > 60:
                service.restarts = 0
            delay = min(30.0, 2.0**service.restarts)
            service.next_start = now + delay
            log.error(
                "service_exited",
                extra={"service": service.name, "code": code, "restart_in_s": delay},
            )
        if now >= service.next_start:
            service.restarts += 1
            service.next_start = 0.0
            service.start()

    def _port_taken(self, name: str) -> bool:
        return port_open(self.settings.host, self.settings.port(name))

    def _healthy(self, client: httpx.Client, name: str) -> bool:
        try:
            return client.get(f"{self.settings.url(name)}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def _prepare_topics(self) -> None:
        settings = KizunaSettings(**self._shared_settings())
        asyncio.run(_wait_and_create_topics(settings))

    def _shared_settings(self) -> dict[str, Any]:
        return {
            "var_dir": self.settings.var_dir,
            "kafka_bootstrap": self.bootstrap,
            "kafka_idempotence": self.settings.kafka_idempotence,
            "kafka_namespace": self.settings.kafka_namespace,
            "clickhouse_url": self.settings.clickhouse_url,
            "database_url": self.settings.database_url,
            "content_url": self.settings.url("content"),
            "log_level": self.settings.log_level,
        }

    def _service(self, name: str) -> ServiceProcess:
        env = {**os.environ, **self._service_env}
        for key, value in self._shared_settings().items():
            env[f"KIZUNA_{key.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        command = [sys.executable, "-m", "uvicorn", f"services.{name}.app:create_app", "--factory"]
        command += ["--host", self.settings.host, "--port", str(self.settings.port(name))]
        command += ["--no-access-log", "--timeout-graceful-shutdown", "5"]
        return ServiceProcess(name, command, env, self._log(name))

    def _log(self, name: str) -> IO[bytes] | None:
        if self._log_dir is None:
            return None  # inherit the terminal
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return (self._log_dir / f"{name}.log").open("ab")


async def _wait_and_create_topics(settings: KizunaSettings) -> None:
    try:
        await wait_for_broker(settings)
    except TimeoutError as exc:
        raise RuntimeError(str(exc)) from None
    await create_topics(settings)


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser("run", help="run the whole stack in the foreground")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = StackSettings()
    logs.configure(settings.log_level)
    stack = Stack(settings)
    # Both set a flag that start() and supervise() watch, even where SIGINT came in ignored
    # (`nohup`, `cmd &` in scripts).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stack.request_stop())
    try:
        demo = stack.start()
        _print_banner(stack, demo)
        stack.supervise()
    except StopRequested:
        pass
    except RuntimeError as exc:
        print(f"kizuna run: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    stack.stop()
    return 0


def _print_banner(stack: Stack, demo: DemoKeys) -> None:
    settings = stack.settings
    lines = ["", "Kizuna is running. Ctrl-C stops it.", ""]
    lines += [
        f"  {name:<8} {settings.url(name)}" for name in ("ingest", "metrics", "rules", "content")
    ]
    lines += [
        f"  {'kafka':<8} {stack.bootstrap}{' (embedded Tansu)' if stack.broker else ''}",
        f"  {'sql':<8} {settings.sql_url()}",
        f"  {'warehouse':<8} {settings.clickhouse_dsn()}",
        "",
        f"  tenant {demo.tenant}, product {demo.product}",
        f"  write key  {demo.write_key}",
        f"  api key    {demo.api_key}",
        *(
            [f"  (revoked: delete {settings.var_dir / 'demo-keys.json'} for new demo keys)"]
            if demo.revoked
            else []
        ),
        "",
        f"  try: curl -u {demo.write_key}: {settings.url('ingest')}/v1/track "
        '-d \'{"userId": "u1", "event": "Report Exported", "context": {"groupId": "acme"}}\'',
        "",
    ]
    print("\n".join(lines), flush=True)
