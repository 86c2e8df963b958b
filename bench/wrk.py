"""Closed-loop saturation with wrk: how many requests/s one server answers at most.

wrk (C, one thread here) costs the machine far less per request than any Python client, which
matters on 2 cores where the client, the broker and the server share them. The Lua script
posts a `bench.payloads` template with REQUEST_ID replaced by `<tag>-<n>` in every request, and
prints wrk's summary as one JSON object.

wrk -s SCRIPT URL -- TEMPLATE_FILE TAG AUTHORIZATION PLACEHOLDER
"""

import json
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.payloads import REQUEST_ID

SCRIPT = """
local parts, tag, counter = {}, "", 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local template = file:read("*a")
  file:close()
  local from = 1
  while true do
    local first, last = string.find(template, args[4], from, true)
    if not first then break end
    table.insert(parts, string.sub(template, from, first - 1))
    from = last + 1
  end
  table.insert(parts, string.sub(template, from))
  tag = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[3]
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, table.concat(parts, tag .. "-" .. counter))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p99": %d, ' ..
    '"max": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    template: Path,
    authorization: str,
    tag: str,
    connections: int,
    duration_s: int,
    script_dir: Path,
) -> dict[str, Any]:
    """Saturate `url` for `duration_s`; return wrk's summary with `client_cpu_s` added.

    Raises RuntimeError when wrk fails or prints no summary."""
    script = script_dir / "post_template.lua"
    if not script.exists():
        script.write_text(SCRIPT)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s"]
    command += ["-s", str(script), url, "--", str(template), tag, authorization, REQUEST_ID]

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")

    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary["client_cpu_s"] = round(cpu, 2)
    return summary
