"""Build data/unihan_names.tsv, the per-character facts a name table shows, from Unicode's Unihan.

The source is the Unicode Consortium's Unihan database as Debian's unicode-data package installs
it (/usr/share/unicode/Unihan_*.txt.bz2, or .txt).

    sudo apt-get install unicode-data   # Debian/Ubuntu: Unihan 15.0.0 on Debian 12
    python tools/build_unihan.py        # rewrites data/unihan_names.tsv (0.5 MB, a few seconds)

It keeps, for every character of ngender's naming statistics (names.name_counts(): the characters a
name table can ever use) that Unihan knows:
    kTotalStrokes  the stroke count (the first value: the one for the mainland's forms)
    kTGHZ2013      present exactly when the character is in the 通用规范汉字表 (2013, 8,105
                   characters), the characters a name for the household register may use; its
                   readings there
    kDefinition    the English meaning, whole (senses separated by ';')
It does not translate anything, and keeps nothing else of Unihan. Run it again when Unihan changes;
tests/test_hanzi.py rebuilds the file from the installed Unihan files and compares it byte for byte.
"""

from __future__ import annotations

import argparse
import bz2
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

UNIHAN_DIR = Path("/usr/share/unicode")
OUT = REPO / "data" / "unihan_names.tsv"
FIELDS = {
    "kTotalStrokes": "Unihan_IRGSources.txt",
    "kTGHZ2013": "Unihan_Readings.txt",
    "kDefinition": "Unihan_Readings.txt",
}
INSTALL = "sudo apt-get install unicode-data"
COLUMNS = ("char", "strokes", "tghz2013", "definition")
# The Unicode licence asks that its notice travel with every copy, and that a modified
# data file says so.
NOTICE = """\
# Unicode Character Database: Unihan, version {version} ({date}). © {year} Unicode®, Inc.
# Unicode and the Unicode Logo are registered trademarks of Unicode, Inc. in the U.S. and other
# countries.
# For terms of use, see https://www.unicode.org/terms_of_use.html
#
# COPYRIGHT AND PERMISSION NOTICE
# Copyright © 1991-{year} Unicode, Inc. All rights reserved.
# Distributed under the Terms of Use in https://www.unicode.org/copyright.html.
# Permission is hereby granted, free of charge, to any person obtaining a copy of the Unicode data
# files and any associated documentation (the "Data Files") or Unicode software and any associated
# documentation (the "Software") to deal in the Data Files or Software without restriction,
# including without limitation the rights to use, copy, modify, merge, publish, distribute, and/or
# sell copies of the Data Files or Software, and to permit persons to whom the Data Files or
# Software are furnished to do so, provided that either (a) this copyright and permission notice
# appear with all copies of the Data Files or Software, or (b) this copyright and permission notice
# appear in associated Documentation.
# THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
# PURPOSE AND NONINFRINGEMENT OF THIRD PARTY RIGHTS. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
# HOLDERS INCLUDED IN THIS NOTICE BE LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL
# DAMAGES, OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE
# USE OR PERFORMANCE OF THE DATA FILES OR SOFTWARE.
# Except as contained in this notice, the name of a copyright holder shall not be used in
# advertising or otherwise to promote the sale, use or other dealings in these Data Files or
# Software without prior written authorization of the copyright holder.
#
# MODIFIED: this is not a Unihan file but an extract, made by tools/build_unihan.py: three fields
# (kTotalStrokes, its first value; kTGHZ2013, its readings only; kDefinition) for the {count}
# characters of ngender's naming statistics that Unihan knows, one tab-separated row each; tghz2013
# is empty outside the 2013 standard table.
"""


class MissingUnihan(Exception):
    pass


def source_path(folder: Path, name: str) -> Path:
    for path in (folder / name, folder / f"{name}.bz2"):
        if path.is_file():
            return path
    raise MissingUnihan(f"{folder / name}(.bz2) is missing: {INSTALL}")


def read_lines(path: Path) -> list[str]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def read_unihan(folder: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(char -> {field: value} for FIELDS, the header's {'version', 'date', 'year'})."""
    facts: dict[str, dict[str, str]] = {}
    header = {}
    for name in sorted(set(FIELDS.values())):
        for line in read_lines(source_path(folder, name)):
            if line.startswith("#"):
                if m := re.match(r"# Unicode version: (\S+)", line):
                    header["version"] = m.group(1)
                elif m := re.match(r"# Date: (\d{4}-\d\d-\d\d)", line):
                    header["date"] = m.group(1)
                elif m := re.match(r"# © (\d{4})", line):
                    header["year"] = m.group(1)
                continue
            if not line.strip():
                continue
            code, field, value = line.split("\t", 2)
            if FIELDS.get(field) == name:
                facts.setdefault(chr(int(code[2:], 16)), {})[field] = value
    return facts, header


def rows(facts: dict[str, dict[str, str]], chars) -> list[tuple[str, str, str, str]]:
    """(char, strokes, 2013 readings or '', definition) for each char Unihan has strokes for, in
    code-point order."""
    out = []
    for char in sorted(set(chars)):
        f = facts.get(char, {})
        if "kTotalStrokes" not in f:
            continue
        readings = [entry.split(":", 1)[1] for entry in f.get("kTGHZ2013", "").split()]
        out.append(
            (
                char,
                f["kTotalStrokes"].split()[0],
                " ".join(dict.fromkeys(readings)),
                " ".join(f.get("kDefinition", "").split()),
            )
        )
    return out


def build(folder: Path = UNIHAN_DIR) -> str:
    """The data file's text."""
    facts, header = read_unihan(folder)
    import names  # after the Unihan files are found: it loads torch

    table = rows(facts, names.name_counts())
    lines = [NOTICE.format(count=len(table), **header).rstrip("\n"), "\t".join(COLUMNS)]
    lines += ["\t".join(row) for row in table]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    return run_build(
        argv,
        __doc__,
        build,
        OUT,
        lambda text: f"{text.count(chr(10)) - NOTICE.count(chr(10)) - 1} characters",
    )


def run_build(argv, doc: str, build, out: Path, says) -> int:
    """A Unihan build script's command line (this one's and build_double_surnames.py's):
    --unihan_dir and --out, build(unihan_dir) -> the file's text, a one-line error without
    Unihan, and what was written (says(text))."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--unihan_dir", type=Path, default=UNIHAN_DIR, help="Folder of Unihan_*.txt(.bz2)."
    )
    parser.add_argument("--out", type=Path, default=out, help="The data file to write.")
    options = parser.parse_args(argv)
    try:
        text = build(options.unihan_dir)
    except MissingUnihan as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(text, encoding="utf-8")
    print(f"wrote {options.out} ({says(text)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
