"""Naming knowledge for app.py: surnames (欧阳娜 is 欧阳 + 娜) and the prompts, which characters
people really give as names, how a name leans by sex and how it reads in pinyin. The search
that fills a prompt's [MASK]s with names under these rules is beam_search.py.

The knowledge is data from installed packages, read once when first needed:
- ngender's charfreq.csv (MIT licence): for 9,442 characters, how often each occurs in men's and in
  women's given names, about 32 million characters in all;
- pypinyin (MIT licence) for readings, plus SURNAME_READINGS below for surnames that it reads as
  common words;
- jieba's dictionary (MIT licence): two-character words of everyday Chinese (子女, 名字), which are
  no given names.
It does not judge meaning, tones that clash, or generation names; and a lean is a share of real
names given to boys or girls, nothing more.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import math
import os
import re
import unicodedata
from pathlib import Path

import hanzi

STATS_PACKAGE, STATS_FILE = "ngender", "charfreq.csv"
# A character is a given-name character when the statistics count it at least this often in their
# ~32 million given-name characters (about 31 per million): that leaves 1,312 characters covering
# 98.0% of all given-name characters in the data. Corpus function words fall below it (的 772, 叫
# 89, 们 31), and so do traditional forms (設 1, 歲 1; 皺 and 閾 are absent): the data is mainland,
# simplified.
MIN_NAME_COUNT = 1000
# Weight of log P(asked gender | given name) beside the model's log-probability, with --gender
# boy|girl. Measured with `python bench.py gender` (README「名字表」), a tiny BERT trained on
# train.json whose boy and girl lists are the same without it: at 0 the gender fit is 0.45-0.60; at
# 1.0 it is 0.80-0.95 and the one-character boy and girl lists share 5 names; at 2.0 it is
# 0.95-1.00 with 1 shared name, the model's best names still on top. Higher (3.0) buys little more
# and overrides the model more.
GENDER_WEIGHT = 2.0
# At most this many rows of a two-character list share a character in the same position, so that the
# top 20 uses at least 10 distinct characters in each position; the training corpus's own given
# names may go beyond it (beam_search._select): 子轩, 宇轩 and 明轩 all stay when a model is sure.
MAX_PER_CHARACTER = 2
# The characters real given names use most: the most frequent ones that together make up this
# share of all given-name characters in the statistics. 80% is 293 characters, each used at least
# 21,859 times (子 59,360, 宇 147,851, 杰 231,469). A character the training corpus uses mostly
# outside given names stays a name character only if it is one of these (roles.py); bench.py names
# scores lists by them.
COMMON_SHARE = 0.80
# Weight of log(count in real given names) per character, beside the model's log-probability:
# a character used 5,000 times (张 5,259) needs the model log(150,000 / 5,000) x 0.5 = 1.7
# nats (5.5 times) surer than one used 150,000 times (宇) to rank above it. Measured with
# `python bench.py lists` (README「名字表」).
FREQUENCY_WEIGHT = 0.5
# With --gender boy|girl no character may be this many times as frequent (per character, even
# priors) in the other sex's given names as in the asked sex's: 杰 (2.7 times in boys') never goes
# into a girl's name, 霞 (32 times in girls') never into a boy's. 2.5 bars 490 given-name characters
# from girls' names (13.2% of what real girls' names use) and 256 from boys' names (6.0%). Over the
# whole name, naive Bayes must also lean to the asked sex (fits_gender).
STRONG_LEAN = 2.5
# Two-character words of jieba's dictionary that it counts at least this often are everyday words,
# no given names: 子女 1,845, 天天 1,855, 明明 1,305, 宝宝 301 are out; names that are also rare
# words, such as 欣然 286, 天宇 286, 安然 139, 俊杰 27, stay. 4,191 pairs of given-name characters
# are out. The corpus's own given names always stay.
WORDS_PACKAGE, WORDS_FILE = "jieba", "dict.txt"
MIN_WORD_COUNT = 300

HAN_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Surnames whose surname reading is not the character's common one, which pypinyin gives
# (现代汉语词典 and the 百家姓 readings). Double surnames read as a unit.
SURNAME_READINGS = {
    "单": "shàn",
    "曾": "zēng",
    "解": "xiè",
    "仇": "qiú",
    "区": "ōu",
    "朴": "piáo",
    "查": "zhā",
    "盖": "gě",
    "乐": "yuè",
    "缪": "miào",
    "翟": "zhái",
    "覃": "qín",
    "召": "shào",
    "华": "huà",
    "任": "rén",
    "纪": "jǐ",
    "燕": "yān",
    "葛": "gě",
    "冼": "xiǎn",
    "尉": "wèi",
    "繁": "pó",
    "谌": "chén",
    "种": "chóng",
    "重": "chóng",
    "秘": "bì",
    "句": "gōu",
    "阚": "kàn",
    "隗": "wěi",
    "黑": "hè",
    "过": "guō",
    "那": "nā",
    "都": "dū",
    "朝": "cháo",
    "曲": "qū",
    "宁": "nìng",
    "薄": "bó",
    "莘": "shēn",
    "尉迟": "yù chí",
    "万俟": "mò qí",
    "单于": "chán yú",
    "长孙": "zhǎng sūn",
    "澹台": "tán tái",
}
# grave, acute, macron, caron (not ü's diaeresis)
_TONE_MARKS = {"\u0300", "\u0301", "\u0304", "\u030c"}
# 5: the neutral tone (no mark), as pypinyin
TONE_OF_MARK = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}
# A given name's shape with fixed characters, --pattern: 子_ (a generation
# character first), _轩, __.
FREE = "_"

MASK = "[MASK]"
# Double surnames, so that 欧阳娜 splits into 欧阳 + 娜 and not 欧 + 阳娜: the 百家姓's 60 and their
# traditional forms (歐陽, 司馬, 諸葛, 鍾離), from data/double_surnames.tsv (tools/
# build_double_surnames.py), and 独孤, which the 百家姓 lacks. Every two-character key of
# SURNAME_READINGS is one of the 百家姓's (单于, 万俟), so the two lists cannot disagree.
DOUBLE_SURNAMES_FILE = Path(__file__).resolve().parent / "data" / "double_surnames.tsv"
OTHER_DOUBLE_SURNAMES = frozenset({"独孤", "獨孤"})
# A label may give its own split: "钟离 娜", "钟离·娜"; 乐 正宇 is 乐 + 正宇, though 乐正 is one.
LABEL_SEPARATORS = " ·・•"
# Prompt templates per --gender: the same sentence patterns as train.json, so a trained model has
# seen them.
PROMPT_TEMPLATES = {
    "any": "小孩的名字叫{surname}{masks}",
    "boy": "男孩的名字叫{surname}{masks}",
    "girl": "女孩的名字叫{surname}{masks}",
}


# ----------------------------------------------------------------------------------------------
# Names and prompts
# ----------------------------------------------------------------------------------------------
@functools.cache
def double_surnames() -> frozenset[str]:
    """Every double surname we split as one, simplified and traditional (read once)."""
    found = set(OTHER_DOUBLE_SURNAMES)
    for line in DOUBLE_SURNAMES_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        if line and not line.startswith("#") and not line.startswith("surname\t"):
            surname, _, forms = line.partition("\t")
            found |= {surname, *forms.split()}
    return frozenset(found)


def split_name(full_name: str) -> tuple[str, str]:
    """'张涛' -> ('张', '涛'); '欧阳娜' -> ('欧阳', '娜'); '歐陽傑' -> ('歐陽', '傑'); '张子涵' ->
    ('张', '子涵'). A name that gives its own split says where: '乐 正宇' -> ('乐', '正宇')."""
    for sep in LABEL_SEPARATORS:
        if sep in full_name.strip():
            surname, _, given = full_name.strip().partition(sep)
            return surname.strip(), given.strip()
    cut = 2 if full_name[:2] in double_surnames() or len(full_name) >= 4 else 1
    return full_name[:cut], full_name[cut:]


def split_checked_name(full_name: str) -> tuple[str, str]:
    """A full name a parent types (--check_name, the page's look-up box): a double surname only
    where 百家姓 has it ('欧阳娜' -> ('欧阳', '娜')), else one character: '王子衿涵' -> ('王',
    '子衿涵'), a given name too long, not ('王子', '衿涵') as split_name reads a corpus's
    four-character label."""
    cut = 2 if full_name[:2] in double_surnames() else 1
    return full_name[:cut], full_name[cut:]


def is_surname(text: str) -> bool:
    """One or two Han characters: 张, 欧阳."""
    return 1 <= len(text) <= 2 and all(HAN_CHAR.fullmatch(c) for c in text)


def prompt(surname: str, gender: str, length: int, pattern: str | None = None) -> str:
    """The sentence pattern for the gender with one [MASK] per given-name character:
    女孩的名字叫李[MASK][MASK]; with a pattern, its fixed characters stand in place and its '_'s are
    the [MASK]s: 女孩的名字叫李子[MASK].
    """
    masks = pattern.replace(FREE, MASK) if pattern else MASK * length
    return PROMPT_TEMPLATES[gender].format(surname=surname, masks=masks)


def pattern_and_avoid_problem(
    pattern, avoid: str, explicit_prompt, surname="", gender="any"
) -> str | None:
    """app.py's --pattern and --avoid: the error line, naming the option and the fix; None if all
    is well."""
    if pattern is not None and (problem := pattern_problem(pattern)):
        return f"--pattern {problem}"
    if pattern is not None and explicit_prompt is not None:
        return (
            "--pattern goes with --surname and --gender, not --prompt: put the character in the"
            " prompt, or leave it out"
        )
    if not all(HAN_CHAR.fullmatch(c) for c in avoid):
        return f"--avoid must be Chinese characters written together (伟强), got {avoid!r}"
    if pattern is not None and (
        problem := fixed_char_problem(pattern.replace(FREE, ""), surname, avoid, gender)
    ):
        return f"--pattern {pattern}: {problem}"
    return None


def fixed_char_problem(fixed: str, surname: str, avoid: str, gender: str) -> str | None:
    """Why the rules would never let this fixed character (字辈) into the name (surname, --avoid,
    STRONG_LEAN); or None."""
    for c in fixed:
        if c in surname or c in avoid:
            return (
                f"{c} is the surname's own character (a given name does not repeat it): pick"
                " another"
                if c in surname
                else f"{c} is also in --avoid: drop it from one of the two"
            )
        if leans_strongly(c, gender):
            return (
                f"{c} is at least {STRONG_LEAN:g} times as common in"
                f" {'boys' if gender == 'girl' else 'girls'}' names, so no {gender}'s name may hold"
                " it: pick another character, or --gender any"
            )
    return None


def unknown_chars(tokenizer, chars: str) -> str:
    """Those of chars that the tokenizer does not have as tokens (a model cannot read them)."""
    return "".join(
        c for c in chars if tokenizer.convert_tokens_to_ids(c) in (None, tokenizer.unk_token_id)
    )


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with a --pattern (子_, _轩, __), in words that name the fix; None if
    nothing."""
    if not 1 <= len(pattern) <= 2 or not all(c == FREE or HAN_CHAR.fullmatch(c) for c in pattern):
        return (
            f"must be one or two positions, each a Chinese character or '{FREE}' (子_, _轩, __), "
            f"got {pattern!r}"
        )
    if FREE not in pattern:
        return f"must leave at least one position free with '{FREE}' (子_ or _子), got {pattern!r}"
    return None


def fill_pattern(pattern: str, fills) -> str:
    """'子_' + ['涵'] -> '子涵': the free positions filled in order, one token each."""
    filled = iter(fills)
    return "".join(next(filled) if c == FREE else c for c in pattern)


# ----------------------------------------------------------------------------------------------
# The statistics
# ----------------------------------------------------------------------------------------------
@functools.cache
def name_counts() -> dict[str, tuple[int, int]]:
    """char -> (occurrences in boys' given names, in girls'), from the installed ngender package."""
    with importlib.resources.files(STATS_PACKAGE).joinpath(STATS_FILE).open(encoding="utf-8") as f:
        rows = csv.reader(f)
        assert next(rows) == ["char", "male", "female"], (
            f"{STATS_PACKAGE}'s {STATS_FILE} changed its columns"
        )
        return {char: (int(boys), int(girls)) for char, boys, girls in rows}


@functools.cache
def _totals() -> tuple[int, int]:
    counts = name_counts().values()
    return sum(b for b, _ in counts), sum(g for _, g in counts)


def is_name_char(char: str) -> bool:
    """A character people really give as part of a name (MIN_NAME_COUNT in the statistics)."""
    return sum(name_counts().get(char, (0, 0))) >= MIN_NAME_COUNT


@functools.cache
def min_common_count() -> int:
    """The count of the least used of the characters real given names use most (COMMON_SHARE)."""
    totals = sorted((b + g for b, g in name_counts().values()), reverse=True)
    needed, running = COMMON_SHARE * sum(totals), 0
    for count in totals:
        running += count
        if running >= needed:
            return count
    return totals[-1]


def is_common_char(char: str) -> bool:
    """One of the characters real given names use most (COMMON_SHARE of all given-name
    characters)."""
    return sum(name_counts().get(char, (0, 0))) >= min_common_count()


def leans_strongly(char: str, gender: str) -> bool:
    """Whether the character is at least STRONG_LEAN times as frequent in the other sex's names
    ('boy', 'girl')."""
    sign = {"boy": -1.0, "girl": 1.0}.get(gender, 0.0)
    return sign * char_log_ratio(char) >= math.log(STRONG_LEAN) if sign else False


@functools.cache
def everyday_words() -> frozenset[str]:
    """Two-character words of jieba's dictionary (MIN_WORD_COUNT or more) whose characters are
    given-name characters."""
    words = set()
    with importlib.resources.files(WORDS_PACKAGE).joinpath(WORDS_FILE).open(encoding="utf-8") as f:
        for line in f:
            word, count, *_ = line.split()
            if (
                len(word) == 2
                and int(count) >= MIN_WORD_COUNT
                and is_name_char(word[0])
                and is_name_char(word[1])
            ):
                words.add(word)
    return frozenset(words)


def char_log_ratio(char: str) -> float:
    """log f(char | boys' names) - log f(char | girls' names), add-one smoothed; 0 for unknown
    characters."""
    if char not in name_counts():
        return 0.0
    boys, girls = name_counts()[char]
    boys_total, girls_total = _totals()
    return math.log((boys + 1) / boys_total) - math.log((girls + 1) / girls_total)


def boy_share(given: str) -> float:
    """P(boy | given name), naive Bayes over its characters with even priors: the name's own lean,
    not the share of boys among babies."""
    return 1 / (1 + math.exp(-sum(char_log_ratio(c) for c in given)))


def lean(given: str) -> str:
    """'男 94%' or '女 88%': which sex the statistics give this name to, and how surely; '-' if
    unknown."""
    if not any(c in name_counts() for c in given):
        return "-"
    p = boy_share(given)
    return f"男 {p:.0%}" if p >= 0.5 else f"女 {1 - p:.0%}"


def fits_gender(given: str, gender: str) -> bool:
    """Whether the name leans to the asked gender ('boy' or 'girl')."""
    p = boy_share(given)
    return p > 0.5 if gender == "boy" else p < 0.5


def fits_strictly(given: str, gender: str) -> bool:
    """The hard gender rule of boy and girl lists: the name leans to the asked sex and none of its
    characters leans strongly the other way. Always true for 'any'."""
    if gender not in ("boy", "girl"):
        return True
    return fits_gender(given, gender) and not any(leans_strongly(c, gender) for c in given)


def quality(givens: list[str], gender: str) -> dict:
    """gender_fit: share of names leaning to the asked gender (boy/girl only); name_realism: share
    of names whose every character passes the given-name filter; registrable: hanzi.quality."""
    out = (
        {"name_realism": sum(all(is_name_char(c) for c in g) for g in givens) / len(givens)}
        if givens
        else {}
    )
    out |= hanzi.quality(givens)
    if givens and gender in ("boy", "girl"):
        out["gender_fit"] = sum(fits_gender(g, gender) for g in givens) / len(givens)
    return out


# ----------------------------------------------------------------------------------------------
# Pinyin
# ----------------------------------------------------------------------------------------------
@functools.cache
def _pypinyin():
    # The phrase dictionary (words, not single characters) is not needed here and costs
    # ~0.1 s to load.
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    import pypinyin

    return pypinyin


def char_pinyin(char: str) -> str:
    """A given-name character's reading: its first reading with a full tone (子 zǐ, not the zi of
    儿子)."""
    pypinyin = _pypinyin()
    readings = pypinyin.pinyin(
        char, style=pypinyin.Style.TONE, heteronym=True, errors=lambda _: ["-"]
    )[0]
    toned = [r for r in readings if _TONE_MARKS & set(unicodedata.normalize("NFD", r))]
    return (toned or readings)[0]


def surname_pinyin(surname: str) -> str:
    """A surname read as a surname: 单 shàn, 曾 zēng, 欧阳 ōu yáng."""
    if surname in SURNAME_READINGS:
        return SURNAME_READINGS[surname]
    return " ".join(SURNAME_READINGS.get(c) or char_pinyin(c) for c in surname)


def tone(syllable: str) -> int:
    """1-4 from the tone mark ('tāo' 1, 'hán' 2); 5 for the neutral tone (no mark)."""
    return next(
        (TONE_OF_MARK[m] for m in unicodedata.normalize("NFD", syllable) if m in TONE_OF_MARK), 5
    )


def tones(surname: str, given: str) -> tuple[list[int], bool]:
    """The full name's tones in order, and whether it reads flat (every syllable the same tone:
    张天骄 1-1-1); ([], False) where the name is no Han characters (a raw prediction)."""
    reading = name_pinyin(surname, given)
    if "-" in reading.split():
        return [], False
    numbers = [tone(s) for s in reading.split()]
    return numbers, len(numbers) > 1 and len(set(numbers)) == 1


def name_pinyin(surname: str, given: str) -> str:
    """'zēng zǐ hán' for 曾 + 子涵; for raw predictions, a word piece reads as its characters (##瞎
    xiā) and anything that is not Han characters as '-' (##ting, ，)."""
    chars = given.removeprefix("##")
    reading = (
        " ".join(map(char_pinyin, chars))
        if chars and all(HAN_CHAR.fullmatch(c) for c in chars)
        else "-"
    )
    return f"{surname_pinyin(surname)} {reading}" if surname else reading
