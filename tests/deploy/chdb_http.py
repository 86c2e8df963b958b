"""A test-only stand-in for a ClickHouse server: the part of ClickHouse's HTTP interface that
clickhouse-connect uses, answered by chDB (the ClickHouse engine in process).

    python -m tests.deploy.chdb_http DATA_DIR PORT

No ClickHouse server can be installed on these machines; this lets the metrics service's HTTP
path (its async client) run against the real engine. It speaks:
- `GET /ping`;
- a statement in the body, or in the `query` parameter with the data to insert in the body
  (`INSERT ... FORMAT JSONEachRow`);
- `param_<name>` query parameters for `{name:Type}` placeholders, and settings as parameters;
- answers in the format the statement asks for (clickhouse-connect asks for Native), else
  TabSeparated; errors as HTTP 500 with `X-ClickHouse-Exception-Code` and the message.

It is not ClickHouse: no authentication, no compression, no sessions, one statement at a time.
"""

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# Parameters of the HTTP interface that are not ClickHouse settings.
TRANSPORT = {
    "query",
    "database",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "default_format",
    "compress",
    "decompress",
    "enable_http_compression",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close",
    "client_protocol_version",
    "user",
    "password",
    "quota_key",
}
ERROR_CODE = re.compile(r"Code: (\d+)")
SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Front:
    def __init__(self, path: str) -> None:
        self._connection = chdb.connect(path)
        self._lock = threading.Lock()

    def run(self, sql: str, params: dict[str, str], settings: dict[str, str]) -> bytes:
        with self._lock:
            for name, value in settings.items():
                if not SETTING.match(name):
                    raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name}")
                escaped = value.replace("\\", "\\\\").replace("'", "\\'")
                self._connection.query(f"SET {name} = '{escaped}'")
            result: Any = self._connection.query(sql, "TabSeparated", params=params)
            return bytes(result.bytes())


def handler(front: Front) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/ping":
                self._answer(200, b"Ok.\n")
            else:
                self._execute(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._execute(self.rfile.read(length))

        def _execute(self, body: bytes) -> None:
            fields = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            query = fields.get("query")
            sql = f"{query}\n{body.decode()}" if query is not None else body.decode()
            params = {k[6:]: v for k, v in fields.items() if k.startswith("param_")}
            settings = {
                k: v for k, v in fields.items() if k not in TRANSPORT and not k.startswith("param_")
            }
            try:
                answer = front.run(sql, params, settings)
            except Exception as exc:  # the engine's error, as a server would report it
                message = str(exc)
                code = ERROR_CODE.search(message)
                headers = {"X-ClickHouse-Exception-Code": code.group(1) if code else "1"}
                self._answer(500, message.encode(), headers)
                return
            self._answer(200, answer, {"X-ClickHouse-Summary": "{}"})

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    path, port = sys.argv[1], int(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(Front(path)))
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
