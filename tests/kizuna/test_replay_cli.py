"""`kizuna replay xuetangx`: input checks and whole runs against a real HTTP server."""

import argparse
import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna import cli, replay

from .fake_ingest import IngestRecorder
from .xuetangx_factories import TINY_ROWS

TINY_C1038_EVENTS = sum(int(row[-1]) for row in TINY_ROWS if row[0] == "C1038")


@pytest.fixture(autouse=True)
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty var dir of its own, so no test sees the checkout's var/demo-keys.json."""
    monkeypatch.setenv("KIZUNA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KIZUNA_LOG_LEVEL", raising=False)
    return tmp_path / "var"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The handler configures the root logger (stderr of this test); undo it for the next tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kizuna")
    replay.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["replay", "xuetangx", *argv])
    code: int = args.handler(args)
    return code


def write_demo_keys(var_dir: Path, keys: dict[str, str]) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "demo-keys.json").write_text(json.dumps(keys))


def test_kizuna_command_routes_replay_xuetangx_to_its_handler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "xuetangx", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--courses", "C1038,C9999"], "unknown course id(s) C9999"),
        (["--courses", " , "], "--courses is empty"),
        (["--timezone", "Mars/Olympus"], "unknown --timezone"),
        (["--host", "127.0.0.1:8001"], "--host must be an http(s) URL"),
    ],
)
def test_bad_option_exits_2_with_a_message_and_no_traceback(
    tiny_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    assert run(str(tiny_dir), "--write-key", "wk_test", *extra) == 2

    err = capsys.readouterr().err
    assert err.startswith("kizuna replay: ") and expected in err and "Traceback" not in err


def test_directory_without_the_csv_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(str(tmp_path), "--write-key", "wk_test") == 2
    assert "usage_daily.csv not found" in capsys.readouterr().err


def test_malformed_csv_exits_2_naming_the_line(
    tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (tiny_dir / "usage_daily.csv").open("a") as handle:
        handle.write("C1038,77,2014-05-27,1,0,0,0,0,0,0,5\n")

    assert run(str(tiny_dir), "--write-key", "wk_test") == 2
    assert "usage_daily.csv:8: counts" in capsys.readouterr().err


@pytest.mark.parametrize("keys", [None, {"read_key": "rk"}])
def test_missing_write_key_exits_2_saying_how_to_get_one(
    tiny_dir: Path, var_dir: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, str] | None
) -> None:
    if keys is not None:
        write_demo_keys(var_dir, keys)

    assert run(str(tiny_dir)) == 2
    err = capsys.readouterr().err
    assert "no write key" in err and "--write-key" in err


def test_batch_size_below_one_is_refused_by_the_parser(tiny_dir: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        run(str(tiny_dir), "--batch-size", "0")
    assert raised.value.code == 2


def test_replay_sends_every_event_with_the_demo_key_and_reports_the_rate(
    tiny_dir: Path,
    var_dir: Path,
    recorder: IngestRecorder,
    ingest_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_demo_keys(var_dir, {"write_key": "wk_demo"})
    recorder.statuses = [503]
    argv = ["--host", ingest_url, "--courses", "C1038", "--timezone", "Asia/Shanghai"]

    assert run(str(tiny_dir), *argv, "--batch-size", "50", "--concurrency", "3") == 0

    messages = recorder.accepted_messages()
    assert sum(m["type"] == "track" for m in messages) == TINY_C1038_EVENTS
    assert {m["userId"] for m in messages if m["type"] == "group"} == {"4365", "4481"}
    assert recorder.authorizations == {"Basic " + base64.b64encode(b"wk_demo:").decode()}
    assert f"sent {TINY_C1038_EVENTS:,} events and 2 group calls" in capsys.readouterr().out


def test_replay_twice_sends_the_same_message_ids(
    tiny_dir: Path, recorder: IngestRecorder, ingest_url: str
) -> None:
    assert run(str(tiny_dir), "--host", ingest_url, "--write-key", "wk_test") == 0
    first = [m["messageId"] for m in recorder.accepted_messages()]
    recorder.accepted.clear()

    assert run(str(tiny_dir), "--host", ingest_url, "--write-key", "wk_test") == 0
    assert sorted(m["messageId"] for m in recorder.accepted_messages()) == sorted(first)
    assert len(set(first)) == len(first)


def test_invalid_event_answer_exits_1_with_the_servers_error(
    tiny_dir: Path, recorder: IngestRecorder, ingest_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder.statuses = [400]

    assert run(str(tiny_dir), "--host", ingest_url, "--write-key", "wk_test") == 1
    err = capsys.readouterr().err
    assert "HTTP 400" in err and "code=invalid_event" in err and "Traceback" not in err
