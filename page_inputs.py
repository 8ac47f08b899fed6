"""The page's inputs: the choices it offers, and what is wrong with a request, said for a parent
(Chinese first, then English) together with the field it concerns, so that the page shows it
right under that field (a bad surname under 姓, a bad count under 几个名字).

problem() checks a request for names, name_problem() the look-up box's full name. They return
(field, message) or None, and search nothing: demo.py turns a request into a search, serving.py
runs it, page_table.py shows it. It imports no gradio.
"""

from __future__ import annotations

import math

import beam_search
import names

GENDERS = {"不限 any": "any", "男孩 boy": "boy", "女孩 girl": "girl"}
LENGTHS = {"单字名 1": 1, "双字名 2": 2}
MAX_NAMES = 50  # a list a parent reads through; the search's cost grows with it
POSITIONS = {"第一个字 first": 0, "第二个字 second": 1}
# 出处: app.py's --source choices (name_sources.CHOICES), named for a parent; None: any names.
SOURCES = {
    "不限 none": None,
    "诗经": "诗经",
    "楚辞": "楚辞",
    "唐诗": "唐诗",
    "宋词": "宋词",
    "论语和四书 classics": "classics",
}
# What a parent may put between the characters to avoid: 伟、强 or 伟 强 reads as 伟强.
AVOID_SEPARATORS = " ,，、;；/"
# The fields a message can stand under (serving.Answer's notes, in this order).
FIELDS = ("surname", "how_many", "fixed", "avoid", "source")


def problem(
    model,
    tokenizer,
    surname: str,
    gender: str,
    length: int,
    how_many,
    fixed: str,
    avoid: str,
    source: str | None,
) -> tuple[str, str] | None:
    """(field, message) for the first thing wrong with a request's checked-up inputs (surname and
    fixed stripped, avoid without separators); None if nothing is."""
    checks = (
        ("surname", lambda: surname_problem(surname)),
        ("how_many", lambda: how_many_problem(how_many)),
        ("source", lambda: source_problem(source, length)),
        ("fixed", lambda: fixed_problem(tokenizer, fixed, length, surname, avoid, gender, source)),
        ("avoid", lambda: avoid_problem(model, tokenizer, avoid, surname, how_many)),
    )
    return next(((field, said) for field, check in checks if (said := check())), None)


def surname_problem(surname: str) -> str | None:
    if not surname:
        return "请输入姓，如 张、欧阳。 Please type a surname, such as 张 or 欧阳."
    if not names.is_surname(surname):
        return (
            f"姓要是一到两个汉字，如 张、欧阳（现在是「{surname}」）。 The surname must be one or"
            " two Chinese characters."
        )
    return None


def how_many_problem(how_many) -> str | None:
    if (
        how_many is None
        or not isinstance(how_many, (int, float))
        or not math.isfinite(how_many)
        or how_many != int(how_many)
        or not 1 <= how_many <= MAX_NAMES
    ):
        return (
            f"名字个数要在 1 到 {MAX_NAMES} 之间。 The number of names must be a whole number from"
            f" 1 to {MAX_NAMES}."
        )
    return None


def source_problem(source: str | None, length: int) -> str | None:
    if source and length != 2:
        return (
            "经典里取的是两个字的名字，请选「双字名 2」。 A classic gives two-character names:"
            " choose 双字名 2."
        )
    return None


def fixed_problem(
    tokenizer, fixed: str, length: int, surname: str, avoid: str, gender: str, source
) -> str | None:
    """What is wrong with the generation character; None if nothing (or none is given)."""
    if not fixed:
        return None
    if source:
        return (
            "从经典里取名时不能固定字：名字的两个字都来自经典的一句。 A name from a classic takes"
            " both characters from its line: clear the generation character."
        )
    if len(fixed) > 1 or length == 1:
        return (
            "固定字只能有一个，而且要选双字名：两个位置都固定就没有可推荐的字了。 Fix one"
            " character of a two-character name: with both positions fixed there is nothing to"
            " suggest."
        )
    if not names.HAN_CHAR.fullmatch(fixed):
        return (
            f"固定字要是一个汉字（现在是「{fixed}」）。 The generation character must be a"
            " Chinese character."
        )
    if names.unknown_chars(tokenizer, fixed):
        return (
            f"模型不认识「{fixed}」，请换一个字。 The model does not know this character: pick"
            " another."
        )
    if not names.fixed_char_problem(fixed, surname, avoid, gender):
        return None
    if fixed in surname:
        return (
            f"固定字「{fixed}」就是姓里的字，名字里不再用它。请换一个字。 The generation character"
            " is the surname's own."
        )
    if fixed in avoid:
        return (
            f"固定字「{fixed}」也在要避开的字里，请去掉其中一个。 The generation character is also"
            " to be avoided."
        )
    sex = "男孩" if gender == "girl" else "女孩"
    return (
        f"「{fixed}」多用在{sex}的名字里，不适合{'女孩' if gender == 'girl' else '男孩'}。"
        "请换一个字，或选「不限」。"
        " This character is given mostly to the other sex: pick another, or choose any."
    )


def avoid_problem(model, tokenizer, avoid: str, surname: str, how_many) -> str | None:
    bad = [c for c in avoid if not names.HAN_CHAR.fullmatch(c)]
    if bad:
        return (
            f"避开的字要是汉字，如 伟强 或 伟、强（「{bad[0]}」不是）。"
            " The characters to avoid must be Chinese characters, such as 伟强."
        )
    available = int(
        beam_search.candidates(tokenizer, model.config.vocab_size, surname + avoid, True).sum()
    )
    if available < how_many:
        return (
            f"避开的字太多了：只剩 {available} 个字可选，少于要的 {int(how_many)} 个名字。"
            "请少避开几个字，或少要几个名字。"
            f" Too many characters to avoid: {available} remain for {int(how_many)} names."
        )
    return None


def name_problem(tokenizer, full_name: str) -> str | None:
    """What keeps the look-up box from looking at a full name (app.py's --check_name checks, said
    for a parent); None if nothing."""
    if not full_name:
        return "请输入一个完整的名字，如 王子衿。 Please type a full name, such as 王子衿."
    if not all(names.HAN_CHAR.fullmatch(c) for c in full_name):
        return (
            f"名字要全是汉字，如 王子衿（现在是「{full_name}」）。 The name must be in Chinese"
            " characters."
        )
    surname, given = names.split_checked_name(full_name)
    if not 1 <= len(given) <= 2:
        return (
            f"请写姓和一到两个字的名，如 王子衿、欧阳娜（现在是「{full_name}」）。 Give the surname"
            " and a one- or two-character given name."
        )
    if unknown := names.unknown_chars(tokenizer, full_name):
        return (
            f"模型不认识「{unknown}」，没法说它怎么看这个名字，请换一个名字。 The model does not"
            " know this character, so it cannot say what it thinks of the name."
        )
    return None
