"""`kizuna import accounts|users FILE.csv`: customer data from a CSV file, into the metrics
service's bulk API.

Every row is checked before anything is sent: a file with a bad row imports nothing, and the
command lists the bad rows by line number. A header names the columns: `id` (or `account_id` /
`user_id`), the named traits of services.metrics.accounts (`name`, `plan`, `mrr`, `seats`,
`contract_start`, `renewal_date`, `owner`, `churned_at`; `email`, `role`, `created_at`), and
any other column is kept as a text trait. An empty cell sets nothing.
"""

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from tqdm import tqdm

from kizuna.replay import KEYS_FILE, UsageError, demo_key, host_url
from services.metrics.accounts import AccountRecord, Record, UserRecord
from shared.settings import KizunaSettings

DEFAULT_HOST = "http://127.0.0.1:8002"
CHUNK = 5_000  # records per request, each written all at once
MAX_ERRORS_SHOWN = 20

KINDS: dict[str, tuple[type[Record], str]] = {
    "accounts": (AccountRecord, "account_id"),
    "users": (UserRecord, "user_id"),
}


def add_parser(subparsers: Any) -> None:
    command = subparsers.add_parser("import", help="import accounts or users from a CSV file")
    command.add_argument("kind", choices=sorted(KINDS), help="what the file holds")
    command.add_argument("file", type=Path, help="a CSV file with a header row")
    command.add_argument("--product", default="demo", help="the product's slug (default demo)")
    command.add_argument("--host", default=DEFAULT_HOST, help=f"metrics URL ({DEFAULT_HOST})")
    command.add_argument("--api-key", help=f"default: api_key from var/{KEYS_FILE}")
    command.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Returns 0, 1 (the service refused or failed) or 2 (bad input; nothing was sent)."""
    try:
        records = read(args.file, args.kind)
        api_key = args.api_key or demo_key(
            KizunaSettings().var_dir / KEYS_FILE, "api_key", "--api-key"
        )
        host = host_url(args.host)
    except UsageError as exc:
        print(f"kizuna import: {exc}", file=sys.stderr)
        return 2
    try:
        send(records, args.kind, args.product, host, api_key)
    except UploadError as exc:
        print(f"kizuna import: {exc}", file=sys.stderr)
        return 1
    print(f"imported {len(records):,} {args.kind} into {args.product}")
    return 0


class UploadError(Exception):
    pass


def read(path: Path, kind: str) -> list[Record]:
    """Every row of the file as a record. Raises UsageError listing the bad rows."""
    model, id_column = KINDS[kind]
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            named = set(model.model_fields) - {"traits"}
            records, errors = [], []
            for row in reader:
                try:
                    records.append(_record(model, row, id_column, named))
                except ValidationError as exc:
                    first = exc.errors()[0]
                    field = ".".join(str(p) for p in first["loc"]) or "row"
                    errors.append(f"line {reader.line_num}: {field}: {first['msg']}")
                except ValueError as exc:
                    errors.append(f"line {reader.line_num}: {exc}")
    except FileNotFoundError as exc:
        raise UsageError(f"{path} does not exist") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    if errors:
        shown = "\n  ".join(errors[:MAX_ERRORS_SHOWN])
        more = len(errors) - MAX_ERRORS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise UsageError(f"{len(errors)} bad row(s); nothing was imported:\n  {shown}{tail}")
    if not records:
        raise UsageError(f"{path} holds no rows")
    return records


def _record(
    model: type[Record], row: dict[str | None, Any], id_column: str, named: set[str]
) -> Record:
    if None in row:
        raise ValueError("more cells than the header has columns")
    cells = {key: value for key, value in row.items() if key and value not in (None, "")}
    record_id = cells.pop("id", None) or cells.pop(id_column, None)
    if record_id is None:
        raise ValueError(f"no id (an `id` or `{id_column}` column)")
    fields = {key: value for key, value in cells.items() if key in named}
    traits = {key: value for key, value in cells.items() if key not in named}
    return model.model_validate({"id": record_id, **fields, "traits": traits})


def send(records: list[Record], kind: str, product: str, host: str, api_key: str) -> None:
    """POST the records in chunks, with a progress bar. Raises UploadError."""
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{host}/v1/{kind}/bulk"
    with (
        httpx.Client(headers=headers, timeout=60) as client,
        tqdm(total=len(records), unit=kind[:-1], disable=None) as progress,
    ):
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            body = {kind: [r.model_dump(mode="json", exclude_unset=True) for r in chunk]}
            try:
                response = client.post(url, params={"product": product}, json=body)
            except httpx.HTTPError as exc:
                raise UploadError(f"cannot reach {host}: {exc}") from exc
            if response.status_code != 200:
                raise UploadError(_refusal(response, start))
            progress.update(len(chunk))


def _refusal(response: httpx.Response, start: int) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    sent = f"; the first {start:,} rows were imported" if start else "; nothing was imported"
    return f"the service answered {response.status_code}: {detail}{sent}"
