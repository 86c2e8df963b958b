"""`kizuna import`: a file is checked whole before anything is sent."""

from pathlib import Path

import pytest

from kizuna import cli
from kizuna.importer import read
from kizuna.replay import UsageError

HEADER = "id,name,plan,mrr,seats,contract_start,renewal_date,owner,churned_at,region\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_become_records_with_named_and_extra_traits(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "acme,Acme,pro,1200.5,40,2024-01-01,2025-01-01,kim@vendor.example,,EU\n"
        + "globex,Globex,,,,,,,2024-06-30T00:00:00Z,\n",
    )

    acme, globex = read(path, "accounts")
    assert acme.model_dump(exclude_unset=True, mode="json") == {
        "id": "acme",
        "name": "Acme",
        "plan": "pro",
        "mrr": 1200.5,
        "seats": 40,
        "contract_start": "2024-01-01",
        "renewal_date": "2025-01-01",
        "owner": "kim@vendor.example",
        "traits": {"region": "EU"},
    }
    assert globex.trait_values() == {"name": "Globex", "churned_at": "2024-06-30T00:00:00Z"}


def test_bad_rows_are_listed_by_line_and_nothing_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "acme,Acme,pro,lots,40,,,,,\n"
        + "ok,Fine,,,,,,,,\n"
        + ",No id,,,,,,,,\n"
        + "b,B,,,-3,,,not-an-email,,\n",
    )

    with pytest.raises(UsageError) as caught:
        read(path, "accounts")
    message = str(caught.value)
    assert message.startswith("3 bad row(s); nothing was imported")
    assert "line 2: mrr:" in message
    assert "line 4: no id" in message
    assert "line 5: seats:" in message


def test_the_command_reports_a_bad_file_plainly_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, HEADER + "acme,Acme,pro,1,1,2024-13-01,,,,\n")

    code = cli.main(
        ["import", "accounts", str(path), "--api-key", "sk_x", "--host", "http://127.0.0.1:9"]
    )
    assert code == 2
    assert "line 2: contract_start:" in capsys.readouterr().err
