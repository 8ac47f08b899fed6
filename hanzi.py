"""What a parent asks of each character of a name: its stroke count, its meaning, and whether a
name for the household register may use it (the 通用规范汉字表 of 2013, 8,105 characters).

The facts are Unihan's (the Unicode Consortium's character database, Unicode licence), extracted by
tools/build_unihan.py into data/unihan_names.tsv for the characters of ngender's naming statistics,
and read once, when first asked. The meanings are Unihan's English ones (kDefinition): no source of
Chinese glosses with clear terms is packaged here. It does not judge a meaning, or know a character
outside that file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

DATA_FILE = Path(__file__).resolve().parent / "data" / "unihan_names.tsv"


class CharFacts(NamedTuple):
    strokes: int
    registrable: bool  # in the 2013 standard table (Unihan's kTGHZ2013)
    pinyin: str  # its readings in that table, '' outside it
    meaning: str  # Unihan's kDefinition, senses separated by ';'


@functools.cache
def char_facts() -> dict[str, CharFacts]:
    """char -> CharFacts, for every character in data/unihan_names.tsv."""
    facts = {}
    with DATA_FILE.open(encoding="utf-8") as f:
        lines = (line.rstrip("\n") for line in f if not line.startswith("#"))
        assert next(lines).split("\t") == ["char", "strokes", "tghz2013", "definition"], (
            f"{DATA_FILE} changed"
        )
        for line in lines:
            char, strokes, pinyin, meaning = line.split("\t")
            facts[char] = CharFacts(int(strokes), bool(pinyin), pinyin, meaning)
    return facts


def facts(char: str) -> CharFacts | None:
    return char_facts().get(char)


def is_registrable(char: str) -> bool:
    """In the 2013 standard table: a name for the household register may use it."""
    found = facts(char)
    return bool(found and found.registrable)


def strokes(given: str) -> list[int | None]:
    """Per character, its stroke count (None where unknown)."""
    return [found.strokes if (found := facts(c)) else None for c in given]


def format_strokes(given: str) -> str:
    """'7+12' for a two-character given name; '?' for a character the file does not hold."""
    return "+".join("?" if n is None else str(n) for n in strokes(given))


def meaning(char: str) -> str:
    """The whole English meaning: 'soak, wet; tolerate, be lenient'; '' where unknown."""
    found = facts(char)
    return found.meaning if found else ""


def first_sense(char: str) -> str:
    """The first sense only, for a terminal: 'soak, wet'."""
    return first_sense_of(meaning(char))


def first_sense_of(meaning: str) -> str:
    """'soak, wet; tolerate, be lenient' -> 'soak, wet' (Unihan separates senses with ';')."""
    return meaning.split(";")[0].strip()


def quality(givens: list[str]) -> dict:
    """registrable: share of names whose every character is in the 2013 standard table."""
    return (
        {"registrable": sum(all(map(is_registrable, g)) for g in givens) / len(givens)}
        if givens
        else {}
    )
