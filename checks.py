"""One name a parent already has in mind (--check_name 王子衿): its record, as a table row has
it (pinyin, tones, strokes, sense, lean, registrable, homophones, source), and what the model
thinks of it: its probability for the prompt and its rank among the names the search would
suggest under the same rules, or the rule that keeps it out.

It holds no naming knowledge (names.py, name_words.py) and no options (suggestions.py checks
--check_name); the page's look-up box (demo.py) asks look_at for the same record and shows
check_rows as the terminal does.
"""

from __future__ import annotations

from dataclasses import dataclass

import beam_search
import hanzi
import name_words
import names
import outputs
from name_table import display_width, format_source, ljust, suggestion_records

# The search looks this deep for the checked name's rank: deeper costs a wider beam (a parent
# waits about twice the time of a 20-name table on bert-base-chinese's shape at 100).
CHECK_DEPTH = 100


def check_record(
    model, tokenizer, suggest_args, found: list[tuple[str, float]], corpus_roles=None
) -> dict:
    """The name's record (name_table.suggestion_records) with the model's probability, its rank in
    `found` (the search's first CHECK_DEPTH names under the options' rules, best first; None when
    it is not among them) and, when the rules keep it out, why (`ruled_out`)."""
    surname, given = names.split_checked_name(suggest_args.check_name)
    logp = beam_search.score_name(model, tokenizer, suggest_args.resolved_prompt(), given)
    record = suggestion_records([(given, logp)], surname)[0]
    ranked = [g for g, _ in found]
    record["rank"] = ranked.index(given) + 1 if given in ranked else None
    record["ruled_out"] = ruled_out(given, suggest_args, corpus_roles)
    return record


@dataclass
class Asked:
    """What check_record reads of app.SuggestArguments, for a caller that has none (the page): the
    full name, the gender asked for, and the page's rules (standard characters, nothing avoided)."""

    check_name: str
    gender: str = "any"
    avoid: str = ""
    registrable_only: bool = True
    prompt: str | None = None  # the page's own prompt, always (resolved_prompt)

    @property
    def surname(self) -> str:
        return names.split_checked_name(self.check_name)[0]

    def resolved_prompt(self) -> str:
        return names.prompt(
            self.surname, self.gender, len(names.split_checked_name(self.check_name)[1])
        )


def look_at(model, tokenizer, full_name: str, gender: str = "any", corpus_roles=None) -> dict:
    """check_record for a checked full name (a Chinese surname and a one- or two-character given
    name, all in the vocabulary) under the page's rules: what app.py --check_name writes."""
    asked = Asked(full_name, gender)
    # the search app.py's --check_name runs (suggestions.suggest, its defaults), CHECK_DEPTH deep
    found = beam_search.suggest_names(
        model,
        tokenizer,
        asked.resolved_prompt(),
        CHECK_DEPTH,
        gender=gender,
        exclude=asked.surname + asked.avoid,
        roles=corpus_roles,
        registrable_only=asked.registrable_only,
        surname=asked.surname,  # no embarrassing name takes a rank, as in app.py's search
    )
    return check_record(model, tokenizer, asked, found, corpus_roles)


def ruled_out(given: str, suggest_args, corpus_roles=None) -> str | None:
    """Which naming rule keeps this given name out of every table; None if none does. With the
    training corpus's roles, as the search applies them: its own given-name characters are
    candidates however rare, the characters it uses mostly outside given names are not, and a
    word it gives as a name is one."""
    own = corpus_roles.given_name_chars() if corpus_roles else ""
    outside = corpus_roles.not_given_name_chars() if corpus_roles else ""
    for c in given:
        if c in outside:
            return (
                f"{c} 在训练语料里多用在名字以外 {c} is used mostly outside given names in the"
                " training corpus"
            )
        if not names.is_name_char(c) and c not in own:
            return f"{c} 在真实名字里很少用 {c} is rare in real given names"
        if suggest_args.registrable_only and not hanzi.is_registrable(c):
            return f"{c} 不是规范字 {c} is outside the 2013 standard table"
        if c in suggest_args.surname + suggest_args.avoid:
            return f"{c} 是姓或 --avoid 里的字 {c} is the surname's or in --avoid"
        if names.leans_strongly(c, suggest_args.gender):
            return f"{c} 强烈偏向另一性别 {c} leans strongly to the other sex"
    named = corpus_roles.given_names if corpus_roles else {}
    if (
        len(given) == 2
        and given not in named
        and (given in names.everyday_words() or given[0] == given[1])
    ):
        return f"{given} 是日常词或叠字 {given} is an everyday word or one character twice"
    if not names.fits_strictly(given, suggest_args.gender):
        return f"{given} 倾向另一性别 {given} leans to the other sex"
    surname = suggest_args.surname if suggest_args.prompt is None else ""
    if word := name_words.embarrassing_word(surname, given):
        return f"{surname}{given} 谐音「{word}」 {surname}{given} sounds like {word}"
    return None


def format_check(record: dict, title: str) -> list[str]:
    """The record as labelled lines, Chinese first: one fact a line, greppable by its key."""
    rows = check_rows(record)
    width = max(display_width(key) for key, _ in rows) + 2
    return [title, *(f"{ljust(key, width)}{value}" for key, value in rows)]


def check_rows(record: dict) -> list[tuple[str, str]]:
    """(key, value) for each fact of the record, Chinese first: the terminal's lines, the page's
    rows."""
    senses = "; ".join(
        f"{c}：{'、'.join(words) or '-'}（{meaning or '-'}）"
        for c, words, meaning in zip(
            record["given"], record["sense"], record["meaning"], strict=True
        )
    )
    sounds = "、".join(
        f"{'!' if h['embarrassing'] else ''}{h['word']} ({h['pinyin']})"
        for h in record["homophones"]
    )
    p = record["probability"]
    where = (
        f"rank {record['rank']} of its first {CHECK_DEPTH} names"
        if record["rank"]
        else (
            f"not suggested: {record['ruled_out']}"
            if record["ruled_out"]
            else f"not among its first {CHECK_DEPTH} names"
        )
    )
    return [
        ("拼音 pinyin", record["pinyin"]),
        ("声调 tones", record["tones"] + (" 同调" if record["flat"] else "")),
        ("笔画 strokes", "+".join("?" if n is None else str(n) for n in record["strokes"])),
        ("含义 sense", senses),
        ("倾向 lean", record["lean"]),
        ("户口 registrable", "是 yes" if record["registrable"] else "否 no (非规范字)"),
        ("谐音 sound", sounds or "-"),
        ("出处 source", format_source(record)),
        (
            "模型 model",
            f"probability {p:.6f}  {where}" if p >= 1e-4 else f"probability {p:.2e}  {where}",
        ),
    ]


def report_check(
    report, model, tokenizer, suggest_args, when: str, found, title_zh: str, corpus_roles=None
) -> dict:
    """Print the checked name's lines; with --suggestions_file (and not for the pretrained model)
    write its one record. Returns no quality scores: one name is no list."""
    record = check_record(model, tokenizer, suggest_args, found, corpus_roles)
    title = f"{title_zh} check {record['name']} for {suggest_args.resolved_prompt()} ({when})"
    report.say()
    for line in format_check(record, title):
        report.say(line)
    if suggest_args.suggestions_file and when != "pretrained":
        outputs.write_suggestions_file(suggest_args.suggestions_file, [record])
    return {}
