"""Where a two-character given name comes from (出处): a line of a classic in which both of
its characters stand in that order, next to each other first (子衿: 诗经·郑风·子衿, 青青子衿，
悠悠我心), and, for --source, the pairs a classic gives to name a child from.

The lines are data/name_sources.tsv, which tools/build_sources.py builds from the npm package
chinese-poetry 2.0.1 (MIT); it is read once, when first asked. It does not judge a line or rank
names: the pairs it gives are ranked by the model under the usual rules (beam_search.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

DATA_FILE = Path(__file__).resolve().parent / "data" / "name_sources.tsv"
# The order a source is chosen in, and what --source takes (classics: 论语 and the 四书).
WORKS = ("诗经", "楚辞", "论语", "孟子", "大学", "中庸", "唐诗", "宋词")
CHOICES = {
    "诗经": ("诗经",),
    "楚辞": ("楚辞",),
    "唐诗": ("唐诗",),
    "宋词": ("宋词",),
    "classics": ("论语", "孟子", "大学", "中庸"),
}

# Classical function characters (文言虚词), and a few whose sense in a classic's line is no name's:
# in a line they are grammar (芄兰之支: 兰之; 毋金玉尔音: 玉尔; 云胡不夷: 云胡), so a pair holding
# one reads as a fragment of the line, not as a name. 一 and 可 pass the name-character rule (一鸣,
# 可欣), but a classic's 一 and 可 are a number and a modal (有美一人, 汔可小康); 小 there is
# "small, petty" (群小, 实虹小子). Kept out of --source pairs only: a name a parent brings
# (--check_name 王可欣) still gets its source.
FUNCTION_CHARS = frozenset(
    "之乎者也矣焉哉兮其而于於以与所尔夫乃则且曰彼此何胡曷奚盍斯亦不无莫勿弗未非" + "一可小"
)


class Line(NamedTuple):
    work: str
    title: str
    line: str


@functools.cache
def _lines() -> tuple[dict[str, dict[str, Line]], dict[str, dict[str, Line]]]:
    """(pair -> {work: first line}, for pairs next to each other; the same for pairs apart)."""
    adjacent, apart = {}, {}
    with DATA_FILE.open(encoding="utf-8") as f:
        rows = (line.rstrip("\n").split("\t") for line in f if not line.startswith("#"))
        assert next(rows) == ["work", "title", "line", "adjacent", "apart"], f"{DATA_FILE} changed"
        for work, title, text, together, separate in rows:
            found = Line(work, title, text)
            for pairs, table in ((together, adjacent), (separate, apart)):
                for pair in pairs.split():
                    table.setdefault(pair, {}).setdefault(work, found)
    return adjacent, apart


def source(given: str) -> dict | None:
    """{"work": "诗经", "title": "郑风·子衿", "line": "青青子衿，悠悠我心"} for a two-character
    given name: the first work in WORKS whose line holds the two next to each other, else apart;
    None when no line holds both in order (or the name is not two characters)."""
    if len(given) != 2:
        return None
    for table in _lines():
        if given in table:
            found = table[given]
            return next(found[w]._asdict() for w in WORKS if w in found)
    return None


@functools.cache
def pairs(choice: str) -> dict[str, Line]:
    """--source's pairs: given name -> its line, for the pairs standing next to each other in the
    chosen works (CHOICES), the first work's line where several hold one; none holding one of
    FUNCTION_CHARS. Built once a process per choice (0.1-0.3 s; the page asks it per request);
    callers only read it."""
    adjacent, _ = _lines()
    works = CHOICES[choice]
    return {
        pair: found[next(w for w in works if w in found)]
        for pair, found in adjacent.items()
        if any(w in found for w in works) and not FUNCTION_CHARS & set(pair)
    }


def source_in(given: str, choice: str) -> dict | None:
    """source(given), but from the works --source chose where their pairs hold it: a 唐诗 table
    cites its 唐诗 line, not the 诗经 one source() would put first."""
    found = pairs(choice).get(given)
    return found._asdict() if found else source(given)
