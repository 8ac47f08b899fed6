"""hanzi.py and data/unihan_names.tsv: the committed file is what tools/build_unihan.py makes from
the installed Unihan files, and the facts a parent reads are Unihan's."""

import bz2
import functools
import subprocess
import sys
from pathlib import Path

import pytest

import hanzi
import names
from conftest import REPO

UNIHAN = Path("/usr/share/unicode")


def _unihan_files() -> Path:
    """The installed Unihan files; without them the test fails (CI installs them), it does not
    skip."""
    if not all(
        any((UNIHAN / f"Unihan_{n}.txt{z}").is_file() for z in ("", ".bz2"))
        for n in ("Readings", "IRGSources")
    ):
        pytest.fail(
            f"Unihan is not installed in {UNIHAN}: sudo apt-get install unicode-data"
            " (Debian/Ubuntu)"
        )
    return UNIHAN


@functools.cache
def _unihan_fields() -> dict[tuple[str, str], str]:
    """(code point, field) -> value of the three fields, straight from the installed files: a
    reference for the data file that does not go through the tool."""
    found = {}
    for path in sorted(_unihan_files().glob("Unihan_*.txt*")):
        opener = bz2.open if path.suffix == ".bz2" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                code, _, rest = line.partition("\t")
                field, _, value = rest.partition("\t")
                if field in ("kTotalStrokes", "kDefinition", "kTGHZ2013"):
                    found[code, field] = value.rstrip("\n")
    return found


def _unihan_field(char: str, field: str) -> str | None:
    return _unihan_fields().get((f"U+{ord(char):04X}", field))


def test_the_data_file_is_what_the_tool_builds_from_the_installed_unihan(tmp_path):
    _unihan_files()
    out = tmp_path / "unihan_names.tsv"
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_unihan.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes() == hanzi.DATA_FILE.read_bytes(), (
        "run python tools/build_unihan.py and commit the file"
    )


def test_the_tool_says_how_to_install_unihan_when_it_is_missing(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_unihan.py"),
            "--unihan_dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "x.tsv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: ") and "apt-get install unicode-data" in proc.stderr
    assert not (tmp_path / "x.tsv").exists()


def test_the_file_carries_the_unicode_notice_and_version():
    head = hanzi.DATA_FILE.read_text(encoding="utf-8").split("\nchar\t", 1)[0]
    assert (
        "Unihan, version 15.0.0" in head and "Unicode, Inc." in head and "PERMISSION NOTICE" in head
    )
    assert "MODIFIED" in head  # the licence asks that an extract says it is one


@pytest.mark.parametrize(
    "char, strokes, registrable, first",
    [
        ("涛", 10, True, "large waves"),  # the example: kTGHZ2013 361.060:tāo
        ("子", 3, True, "offspring, child"),
        ("涵", 11, True, "soak, wet"),
        ("婷", 12, True, "pretty"),
        ("范", 8, True, "surname"),  # kTotalStrokes '8 9': the first value, the mainland form's
        ("飚", 16, False, "whirlwind"),  # a name character, but the 2013 table has 飙 instead
    ],
)
def test_known_characters(char, strokes, registrable, first):
    facts = hanzi.facts(char)
    assert (facts.strokes, facts.registrable, hanzi.first_sense(char)) == (
        strokes,
        registrable,
        first,
    )
    # And the same, read straight from Unihan.
    assert int(_unihan_field(char, "kTotalStrokes").split()[0]) == strokes
    assert _unihan_field(char, "kDefinition") == facts.meaning
    assert (_unihan_field(char, "kTGHZ2013") is not None) == registrable


def test_every_character_of_the_statistics_is_covered_and_the_counts_are_the_readmes():
    facts = hanzi.char_facts()
    assert set(facts) == set(names.name_counts())  # Unihan knows every one of the 9,442
    name_chars = [c for c in facts if names.is_name_char(c)]
    assert sum(f.registrable for f in facts.values()) == 6495
    # of the 1,312 name characters
    assert [c for c in name_chars if not hanzi.is_registrable(c)] == ["飚"]


def test_strokes_meaning_and_quality_of_a_name():
    assert hanzi.format_strokes("子涵") == "3+11" and hanzi.strokes("子?") == [3, None]
    assert hanzi.first_sense_of("soak, wet; tolerate, be lenient") == "soak, wet"
    assert (
        hanzi.quality(["子涵", "飚", "涛", "婷"]) == {"registrable": 0.75}
        and hanzi.quality([]) == {}
    )
