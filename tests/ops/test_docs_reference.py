"""The checks and settings references stay complete: a new id or key without docs fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from django_authy2fa import conf

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_authy2fa"
CHECK_ID = re.compile(r"""id=["'](authy2fa\.[A-Z][0-9]{3})["']""")
DOC_CHECK_ROW = re.compile(r"^\| `(authy2fa\.[A-Z][0-9]{3})` \| (\w+) \|", re.MULTILINE)


def registered_check_ids() -> set[str]:
    """Every id a check message is created with, anywhere in the package (providers too)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found |= set(CHECK_ID.findall(path.read_text(encoding="utf-8")))
    return found


def documented_checks() -> dict[str, str]:
    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    return dict(DOC_CHECK_ROW.findall(text))


def test_the_scan_finds_the_known_checks():
    # Guards the regex: if it found nothing, the next test would pass for nothing.
    assert {"authy2fa.E001", "authy2fa.E003", "authy2fa.W001", "authy2fa.W004"} <= (
        registered_check_ids()
    )


def test_every_check_id_is_documented_and_every_documented_id_exists():
    assert set(documented_checks()) == registered_check_ids()


def test_documented_levels_match_the_ids():
    for check_id, level in documented_checks().items():
        assert level == {"E": "Error", "W": "Warning"}[check_id.split(".")[1][0]], check_id


def table_rows(heading: str) -> dict[str, str]:
    """``{key: default cell}`` of the first table under ``heading`` in docs/settings.md.

    A row may document several keys at once (```A` / `B``` with ``1 / 2``).
    """
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            if rows and not line.startswith("|"):
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        keys = [key.strip().strip("`") for key in cells[0].split(" / ")]
        defaults = [value.strip() for value in cells[1].split(" / ")]
        if len(defaults) != len(keys):
            defaults = [cells[1]] * len(keys)
        rows.update(zip(keys, defaults, strict=True))
    return rows


def test_every_setting_is_documented_with_its_default():
    rows = table_rows("| Key | Default | Meaning |")
    assert set(rows) == set(conf.DEFAULTS)
    for key, cell in rows.items():
        assert ast.literal_eval(cell.strip("`")) == conf.DEFAULTS[key], key


def test_every_throttle_key_is_documented_with_its_default():
    rows = table_rows("## `THROTTLE`")
    assert set(rows) == set(conf.THROTTLE_DEFAULTS)
    for key, cell in rows.items():
        assert int(cell.strip("`")) == conf.THROTTLE_DEFAULTS[key], key


@pytest.mark.parametrize(
    "command",
    [
        "authy2fa_status",
        "authy2fa_reset",
        "authy2fa_unlock",
        "authy2fa_events",
        "authy2fa_check_provider",
        "authy2fa_migrate_from_authy",
        "authy2fa_rotate_totp_key",
    ],
)
def test_every_command_is_in_the_operations_guide(command):
    assert (PACKAGE / "management" / "commands" / f"{command}.py").exists()
    assert f"`{command}`" in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
