"""The wheel the Docker image installs (`pip install .`, not editable) holds what the services
read at run time besides their code."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_the_wheel_ships_the_snippet_and_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("kizuna-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    migrations = [
        path.relative_to(REPO).as_posix()
        for service in ("content", "rules")
        for path in (REPO / "services" / service / "migrations").rglob("*")
        if path.suffix in (".py", ".mako")
    ]
    expected = {"services/content/static/kizuna.js", *migrations}
    assert len(migrations) == 2 * 2 + 1 + 3  # env.py and template each, and the versions
    assert expected <= names
