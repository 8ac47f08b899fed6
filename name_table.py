"""The name table: what is known of each suggested name (suggestion_records, the one source of
the terminal table, the --suggestions_file JSON and the page) and its lines for a terminal of 100
columns, Chinese first: rank, name, pinyin, tones, strokes, lean, probability, sound, and the
meaning (or, for --source, the classic's line) last, cut to fit.

It searches nothing (beam_search.py) and prints nothing (report.py says the lines).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata

import hanzi
import name_sources
import name_words
import names


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """str.ljust for terminals: a Han character is two columns wide."""
    return text + " " * max(0, width - display_width(text))


# A terminal table fits in this many columns: the meaning, last, is cut to fit.
TABLE_WIDTH = 100
FLAT = "同调"  # after a flat tone pattern: every syllable the same tone (张天骄 1-1-1)
NOT_REGISTRABLE = (  # before the meaning of a name with a character outside the 2013 standard table
    "(非规范字)"
)


def suggestion_records(
    suggestions: list[tuple[str, float]], surname: str = "", source_choice: str | None = None
) -> list[dict]:
    """What is known of each suggested name, in rank order: the one source of the terminal table,
    the --suggestions_file JSON and demo.py's page.

    name (surname + given), given, pinyin, probability (the model's), and per given-name character
    strokes, sense (name_words.senses: Chinese words and an idiom) and meaning (Unihan's English,
    whole, less name_words.UNWANTED_GLOSS); homophones (name_words.homophones); source (a line of
    a classic, name_sources.source, or source_in the classic --source chose; None); registrable
    (every character in the 2013 standard table), tones ('3-1-4', the full name's) and flat (all
    one tone), lean ('女 67%') and boy_share (its number).
    """
    records = []
    for given, logp in suggestions:
        chars = list(given) if given and all(names.HAN_CHAR.fullmatch(c) for c in given) else []
        tones, flat = names.tones(surname, given)
        records.append(
            {
                "name": surname + given,
                "given": given,
                "pinyin": names.name_pinyin(surname, given),
                "probability": math.exp(logp),
                "strokes": hanzi.strokes("".join(chars)),
                "sense": [name_words.senses(c) for c in chars],
                "meaning": [name_words.clean_meaning(hanzi.meaning(c)) for c in chars],
                "registrable": bool(chars) and all(map(hanzi.is_registrable, chars)),
                "tones": "-".join(map(str, tones)) or "-",
                "flat": flat,
                "lean": names.lean(given),
                "boy_share": round(names.boy_share(given), 4),
                "homophones": name_words.homophones(surname, "".join(chars)) if chars else [],
                "source": (
                    name_sources.source_in("".join(chars), source_choice)
                    if source_choice
                    else name_sources.source("".join(chars))
                ),
            }
        )
    return records


def format_tones(record: dict) -> str:
    """'3-1-4', or '1-1-1 同调' when the name reads flat."""
    return f"{record['tones']} {FLAT}" if record["flat"] else record["tones"]


def format_strokes(record: dict) -> str:
    """'3+11' (strokes of each given-name character); '?' for one Unihan does not know, '-' for no
    characters."""
    return "+".join("?" if n is None else str(n) for n in record["strokes"]) or "-"


MARK = "!"  # before a word the name sounds like that would embarrass a child (!饭桶)


def format_sound(record: dict) -> str:
    """'!饭桶' (embarrassing, marked), '增资' (heard, not embarrassing): the first homophone a child
    would be called by; '-' for none. The JSON and the page hold them all."""
    heard = [h for h in record["homophones"] if h["heard"]]
    return (MARK if heard[0]["embarrassing"] else "") + heard[0]["word"] if heard else "-"


# The English after a row's Chinese sense words needs at least this many columns in every row of
# the table, or no row shows it: a gloss cut to a few letters ('determi…') tells a parent nothing,
# and English on some rows only reads as a mix of languages.
MIN_ENGLISH = 16


def chinese_sense(record: dict) -> str:
    """Per character the first Chinese word of its sense (its English first sense, cut at a word,
    where it has none): '宇宙 / 浩大'."""
    prefix = "" if record["registrable"] or not record["sense"] else f"{NOT_REGISTRABLE} "
    return prefix + " / ".join(
        words[0] if words else cut_words(hanzi.first_sense_of(meaning) or "?", 12)
        for words, meaning in zip(record["sense"], record["meaning"], strict=True)
    )


def english_tail(record: dict, width: int) -> str:
    """The English first senses that follow a row's Chinese words in width columns, each cut at a
    word; '' where there is no room for that (MIN_ENGLISH, or a first word too long) or a
    character has no Chinese word (its English already stands in the Chinese part)."""
    if not record["sense"] or not all(record["sense"]):
        return ""
    left = width - display_width(chinese_sense(record)) - 2
    if left < MIN_ENGLISH:
        return ""
    return short_meaning({**record, "registrable": True}, left, whole_words=True)


def short_sense(record: dict, width: int, english: bool = True) -> str:
    """The meaning column: Chinese first, the first word of each character's sense, then, with
    english and room, the English first senses cut at a word: '宇宙 / 浩大  house / great,
    numerous'. A row with no Chinese word at all has the English senses share the width."""
    if not any(record["sense"]):
        return short_meaning(record, width)
    tail = english_tail(record, width) if english else ""
    return f"{chinese_sense(record)}  {tail}" if tail else chinese_sense(record)


def short_meaning(record: dict, width: int | None = None, whole_words: bool = False) -> str:
    """The first sense of each character's meaning, 'offspring, child / soak, wet', each cut at a
    word to its share of width terminal columns (mid-word where not even its first word fits);
    with whole_words, '' then instead."""
    senses = [hanzi.first_sense_of(m) or "?" for m in record["meaning"]]
    prefix = "" if record["registrable"] or not senses else f"{NOT_REGISTRABLE} "
    if width is not None and senses:
        # A short sense keeps its whole length; the longer ones share what is left.
        left = width - display_width(prefix) - 3 * (len(senses) - 1)
        shares = {}
        for n, i in enumerate(sorted(range(len(senses)), key=lambda i: display_width(senses[i]))):
            shares[i] = min(display_width(senses[i]), left // (len(senses) - n))
            left -= shares[i]
        cuts = [cut_words(sense, shares[i]) for i, sense in enumerate(senses)]
        if whole_words and not all(cuts):
            return ""
        senses = [c or cut(senses[i], shares[i]) for i, c in enumerate(cuts)]
    return prefix + " / ".join(senses)


# Said under every name table: its order is not the probability column's
# (beam_search.suggest_names ranks by more).
# Two lines: each fits the table's 100 columns.
RANKING_NOTE = (
    "排序看模型的概率，也看真实名字里这些字有多常用（和性别），所以 probability 不一定逐行变小。\n"
    "Ranked by the model's probability and how common its characters are in real names (and"
    " gender)."
)


def shortfall(found: int, top_k: int, gender: str) -> str | None:
    """The one line that says a list is shorter than asked for (None if it is not)."""
    if found >= top_k:
        return None
    sex = {"boy": "男孩", "girl": "女孩"}.get(gender, "")
    return (
        f"只有 {found} 个名字符合{sex}名字的条件（要 {top_k} 个）。 only {found} of the {top_k}"
        f" names asked for pass the filters{' for a ' + gender if sex else ''}: fewer are shown"
        " rather than names that do not fit"
    )


def format_source(record: dict, width: int | None = None) -> str:
    """'青青子衿，悠悠我心（诗经·郑风·子衿）'; '-' for a name no classic's line holds. Where that is
    wider than width columns it is shortened, a step at a time, until it fits: the line to its
    clause holding the name ('…充耳秀莹（诗经·卫风·淇奥）'), the work left out (a --source
    table's title names it), the title to its last part ('…充耳秀莹（淇奥）'), then the line cut
    around the name ('…秀莹…（淇奥）': the name stays whole), then the line around the name
    alone ('…秀莹…'); the title is cut only when not even the name fits."""
    found = record["source"]
    if not found:
        return "-"
    line, title = found["line"], found["title"]
    full = f"{line}（{found['work']}·{title}）"
    if width is None or display_width(full) <= width:
        return full
    clauses = re.split(r"(?<=[，、：；])", line)
    at = next((i for i, c in enumerate(clauses) if record["given"] in c), None)
    if at is not None:
        line = (
            ("…" if at else "")
            + clauses[at].rstrip("，、：；")
            + ("…" if at < len(clauses) - 1 else "")
        )
    for shown in (
        f"{line}（{found['work']}·{title}）",
        f"{line}（{title}）",
        f"{line}（{title.split('·')[-1]}）",
    ):
        if display_width(shown) <= width:
            return shown
    short = f"（{title.split('·')[-1]}）"
    kept = cut_around(line, record["given"], width - display_width(short))
    if kept:
        return kept + short
    # A long title (古意呈补阙乔知之): the name in its line says more than the title alone, and a
    # --source table's title names the work.
    return cut_around(line, record["given"], width) or cut(short, width)


def format_suggestions(
    title: str,
    suggestions: list[tuple[str, float]],
    surname: str = "",
    source_choice: str | None = None,
) -> list[str]:
    """Lines of a suggestion table (suggestion_records), aligned for a terminal of TABLE_WIDTH
    columns: rank, name, pinyin, tones, strokes, lean, probability, sound (homophones), and the
    meaning last (Chinese sense, then English), cut to fit; source_choice (--source), that classic's
    line in its place."""
    records = suggestion_records(suggestions, surname, source_choice)
    header = ("name", "pinyin", "tones", "strokes", "lean", "probability", "sound")
    columns = [
        (
            r["name"],
            r["pinyin"],
            format_tones(r),
            format_strokes(r),
            r["lean"],
            format_probability(math.log(r["probability"]) if r["probability"] > 0 else -math.inf),
            format_sound(r),
        )
        for r in records
    ]
    widths = [max(display_width(row[i]) for row in [header, *columns]) for i in range(len(header))]

    def line(rank, cells, meaning):
        start = (
            f"{rank:>4}  "
            + "  ".join(ljust(c, w) for c, w in zip(cells, widths, strict=True))
            + "  "
        )
        return (
            start
            + cut(meaning(TABLE_WIDTH - display_width(start)), TABLE_WIDTH - display_width(start))
        ).rstrip()

    # Every row's meaning starts at the same column: the English follows the Chinese in all rows
    # that have both, or in none.
    meaning_width = TABLE_WIDTH - display_width(f"{0:>4}  ") - sum(w + 2 for w in widths)
    english = all(english_tail(r, meaning_width) for r in records if r["sense"] and all(r["sense"]))
    last = "source" if source_choice else "meaning"
    return [title, line("rank", header, lambda _: last)] + [
        line(
            rank,
            cells,
            (lambda width, r=r: format_source(r, width))
            if source_choice
            else (lambda width, r=r: short_sense(r, width, english)),
        )
        for rank, (cells, r) in enumerate(zip(columns, records, strict=True), start=1)
    ]


def cut_words(text: str, width: int) -> str:
    """text, or its longest start of whole words that fits in width terminal columns with '…' at
    the end ('great, numerous…'); '' where not even its first word fits."""
    if display_width(text) <= width:
        return text
    best = ""
    for end in range(1, len(text)):
        if text[end] in " ,;/" and text[end - 1] not in " ,;/":
            candidate = text[:end].rstrip(" ,;/") + "…"
            if display_width(candidate) > width:
                break
            best = candidate
    return best


def cut(text: str, width: int) -> str:
    """text, or as much of it as fits in width terminal columns with '…' at the end."""
    if display_width(text) <= width:
        return text
    while text and display_width(text) > width - 1:
        text = text[:-1]
    return text.rstrip(" ,;/") + "…"


def cut_around(text: str, part: str, width: int) -> str:
    """text cut to width columns with '…' where it is cut, keeping part whole where text holds it
    (a name in a classic's line: '…秀莹…', never '…充耳…'), as much of the start as fits first;
    '' where not even part fits. Without part in it, text is cut at the end."""
    if display_width(text) <= width:
        return text
    at = text.find(part)
    if at < 0:
        return cut(text, width) if width >= 2 else ""
    for start in range(at + 1):
        shown = cut(("…" if start else "") + text[start:], width)
        if part in shown:
            return shown
    return ""


def format_tokens(suggestions: list[tuple[str, float]]) -> list[str]:
    """Lines of a raw-token table (--raw_predictions): rank, token, probability; no name columns."""
    width = max([display_width("token")] + [display_width(token) for token, _ in suggestions])
    return [f"{'rank':>4}  {ljust('token', width)}  probability"] + [
        f"{rank:>4}  {ljust(token, width)}  {format_probability(logp)}"
        for rank, (token, logp) in enumerate(suggestions, 1)
    ]


def format_probability(logp: float) -> str:
    """0.012345, or 1.23e-08 where six decimals would show 0.000000 (two-character names of an
    untrained model)."""
    p = math.exp(logp)
    return f"{p:.6f}" if p >= 1e-4 else f"{p:.2e}"


def read_data_in_background() -> threading.Thread:
    """Read the table's data files (senses, sounds, sources: ~3 MB, ~0.25 s, once a process) in a
    thread, so that app.py reads them while it loads the model rather than when it prints its first
    table (bench.py table: that table would cost up to 1.7 times the later ones)."""
    thread = threading.Thread(target=_read_data, name="name-table-data", daemon=True)
    thread.start()
    return thread


def _read_data():
    for cached in (name_words._senses, name_words._sounds, name_sources._lines):
        cached()
