"""`kizuna health scorecard`: a product's health scorecard as a YAML (or JSON) file.

    kizuna health scorecard get [--product demo]            print it as YAML
    kizuna health scorecard put FILE.yaml [--product demo]  check it and make it the product's
    kizuna health scorecard reset [--product demo]          back to the default

The metrics service checks the file (`PUT /v1/health/scorecard`) and says which field is wrong.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from kizuna.replay import KEYS_FILE, UsageError, demo_key, host_url
from kizuna.stack import StackSettings
from shared.settings import KizunaSettings


def add_parser(actions: Any) -> None:
    command = actions.add_parser("scorecard", help="get, put or reset the product's scorecard")
    verbs = command.add_subparsers(dest="verb", required=True, metavar="VERB")
    get = verbs.add_parser("get", help="print the product's scorecard as YAML")
    put = verbs.add_parser("put", help="make a YAML or JSON file the product's scorecard")
    put.add_argument("file", type=Path)
    reset = verbs.add_parser("reset", help="go back to the default scorecard")
    for parser, handler in ((get, run_get), (put, run_put), (reset, run_reset)):
        common(parser)
        parser.set_defaults(handler=handler)


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--product", default="demo", help="the product's slug (default demo)")
    parser.add_argument(
        "--host", help="metrics URL (default: this machine's, on KIZUNA_METRICS_PORT or 8002)"
    )
    parser.add_argument("--api-key", help=f"default: api_key from var/{KEYS_FILE}")


def client(args: argparse.Namespace) -> httpx.Client:
    """An HTTP client for the metrics service with the caller's API key; raises UsageError."""
    api_key = args.api_key or demo_key(KizunaSettings().var_dir / KEYS_FILE, "api_key", "--api-key")
    headers = {"Authorization": f"Bearer {api_key}"}
    host = args.host or StackSettings().url("metrics")
    return httpx.Client(base_url=host_url(host), headers=headers, timeout=120)


def read_file(path: Path) -> Any:
    """The file's content (YAML, of which JSON is a part); raises UsageError."""
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8"))
        json.dumps(found, allow_nan=False)  # what the API will be sent
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not YAML or JSON: {exc}") from exc
    except (TypeError, ValueError) as exc:  # dates, .nan, .inf
        raise UsageError(f"{path} holds a value a scorecard cannot: {exc}") from exc
    return found


def run_get(args: argparse.Namespace) -> int:
    return _call(args, "GET")


def run_put(args: argparse.Namespace) -> int:
    return _call(args, "PUT", args.file)


def run_reset(args: argparse.Namespace) -> int:
    return _call(args, "DELETE")


def _call(args: argparse.Namespace, method: str, file: Path | None = None) -> int:
    try:
        body = read_file(file) if file else None
        http = client(args)
    except UsageError as exc:
        print(f"kizuna health: {exc}", file=sys.stderr)
        return 2
    with http:
        try:
            response = http.request(
                method, "/v1/health/scorecard", params={"product": args.product}, json=body
            )
        except httpx.HTTPError as exc:
            print(f"kizuna health: cannot reach {http.base_url}: {exc}", file=sys.stderr)
            return 1
    if response.status_code != 200:
        print(f"kizuna health: {_problem(response)}", file=sys.stderr)
        return 1
    answer = response.json()
    if method == "GET":
        print(yaml.safe_dump(answer["scorecard"], sort_keys=False, default_flow_style=None), end="")
    else:
        what = "the default scorecard" if method == "DELETE" else str(file)
        print(f"{args.product}: health scorecard is now {what} (set {answer['updated_at']})")
    return 0


def _problem(response: httpx.Response) -> str:
    """The shared error shape as one line; anything else as sent."""
    try:
        error = response.json()
        return f"{error['attr']}: {error['detail']}" if error.get("attr") else error["detail"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"the metrics service answered {response.status_code}: {response.text}"
