"""The code keeps the field's style: ruff's formatter and linter, as pyproject.toml configures
them (100 columns; pycodestyle, pyflakes, import order, bugbear, pyupgrade)."""

import importlib.metadata
import re
import subprocess
import sys
import unicodedata

import pytest

from conftest import REPO

ruff = pytest.importorskip("ruff", reason="pip install -r requirements-test.txt (it pins ruff)")
PINNED = re.search(r"^ruff==(\S+)", (REPO / "requirements-test.txt").read_text(), re.M).group(1)


def run_ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True
    )


def test_the_configuration_is_at_most_100_columns_with_the_rule_sets_we_keep():
    """Read back from ruff itself, as it resolves pyproject.toml (Python 3.10 has no tomllib)."""
    settings = run_ruff("check", "--show-settings", "app.py").stdout
    width = re.search(r"^linter\.line_length\s*=\s*(\d+)", settings, re.M)
    assert width and int(width.group(1)) <= 100, settings[:2000]
    rules = set(re.findall(r"^\t([a-z0-9-]+) \(([A-Z]+)[0-9]+\)", settings, re.M))
    assert {"E", "F", "I", "B", "UP"} <= {prefix for _, prefix in rules}, settings[:2000]


def test_the_ruff_here_is_the_pinned_one():
    """Another ruff formats differently: the checks below would fail for no fault of the code."""
    assert importlib.metadata.version("ruff") == PINNED, "pip install -r requirements-test.txt"


def test_ruff_format_leaves_every_file_as_it_is():
    proc = run_ruff("format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_finds_nothing():
    proc = run_ruff("check", "--output-format", "concise", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_would_catch_a_long_line_and_an_unused_import(tmp_path):
    """The two checks above can fail: the same configuration flags a planted problem."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\nx = '" + "a" * 120 + "'\n", encoding="utf-8")
    config = str(REPO / "pyproject.toml")
    proc = run_ruff("check", "--config", config, "--output-format", "concise", str(bad))
    assert proc.returncode == 1 and "F401" in proc.stdout and "E501" in proc.stdout, proc.stdout
    assert run_ruff("format", "--config", config, "--check", str(bad)).returncode == 1


def display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_no_line_is_wider_than_100_columns_on_screen():
    """ruff's E501 lets a line without a space pass at any length; a Chinese string has no spaces,
    and each of its characters takes two columns on screen."""
    wide = [
        f"{path.relative_to(REPO)}:{number} ({display_width(line)} columns)"
        for path in sorted([*REPO.glob("*.py"), *REPO.glob("tools/*.py"), *REPO.glob("tests/*.py")])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if display_width(line) > 100
    ]
    assert wide == []
