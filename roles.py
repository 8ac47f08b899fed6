"""The training corpus's own roles for its characters, kept with the model: which characters the
corpus gives as given names, and which it uses only around them (the surname 张, the prompt words
名 叫 孩 女).

A model fine-tuned on train.json learns 张 right after 叫 (it is the surname of 210 of the 350
sentences) and 名 from 小孩取名叫…: it is sure of them where a given name should stand. The corpus
says they are not given names: its labels (name_mask) mark which tokens are. So a character that
the corpus uses mostly outside given names is not a given-name character for a model trained on it,
unless real given names use it often (names.is_common_char: 子 of 儿子 stays, as in 子涵). app.py
counts this at training time and saves it beside metrics.json (corpus_roles.json); `--do_train
False` and demo.py read it back, so a saved model lists what it listed when trained.

It does not judge characters the corpus never uses (no evidence: names.py's own rules apply), nor a
corpus without labels (nothing says which tokens are names: the table is empty).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import names
from errors import UserError

ROLES_FILE = "corpus_roles.json"  # in the model folder, beside metrics.json


@dataclass
class CorpusRoles:
    """Per character: how often the corpus uses it inside given names and elsewhere; and the given
    names it holds."""

    in_names: dict[str, int] = field(default_factory=dict)
    elsewhere: dict[str, int] = field(default_factory=dict)
    given_names: dict[str, int] = field(default_factory=dict)  # 涛 5, 子涵 5, ...
    surnames: dict[str, int] = field(default_factory=dict)  # per character: 张 210, 欧 12, ...

    def not_given_name_chars(self) -> str:
        """The characters the corpus uses mostly outside given names and real names use less than
        often; and its surnames' characters that none of its given names uses, however common in
        real names (杨 of a corpus of 杨s: a model trained on it puts 杨 right after 叫, and
        李杨 would top the table). Sorted."""
        return "".join(
            sorted(
                {
                    c
                    for c, n in self.elsewhere.items()
                    if n > self.in_names.get(c, 0) and not names.is_common_char(c)
                }
                | {c for c in self.surnames if not self.in_names.get(c)}
            )
        )

    def given_name_chars(self) -> str:
        """The characters of the corpus's own given names: candidates however rarely real names use
        them (瓤 琬 劭), sorted."""
        return "".join(sorted(self.in_names))

    def to_json(self) -> str:
        about = (
            "Per character of the training corpus: uses inside given names (name_mask) and"
            " elsewhere; the corpus's given names. Written by app.py; read by app.py --do_train"
            " False and demo.py."
        )
        return (
            json.dumps(
                {
                    "about": about,
                    "in_names": self.in_names,
                    "elsewhere": self.elsewhere,
                    "given_names": self.given_names,
                    "surnames": self.surnames,
                },
                ensure_ascii=False,
                indent=1,
                sort_keys=True,
            )
            + "\n"
        )


def count_roles(rows) -> CorpusRoles:
    """The roles of the Han characters of a corpus (rows with 'text' and 'label', as
    corpus.load_corpus gives them), from the same given-name spans that make name_mask
    (corpus.given_name_span). Empty without labels.
    """
    import corpus

    if "label" not in rows.column_names:
        return CorpusRoles()
    in_names, elsewhere, given, surnames = Counter(), Counter(), Counter(), Counter()
    for text, label in zip(rows["text"], rows["label"], strict=True):
        span = corpus.given_name_span(text or "", label)
        if span is None:
            continue  # a row whose name is unknown says nothing about roles
        start, end = span
        in_names.update(text[start:end])
        surnames.update(names.split_name(label)[0])
        elsewhere.update(text[:start] + text[end:])
        given[text[start:end]] += 1
    han = names.HAN_CHAR.fullmatch
    return CorpusRoles(
        {c: n for c, n in in_names.items() if han(c)},
        {c: n for c, n in elsewhere.items() if han(c)},
        dict(given),
        {c: n for c, n in surnames.items() if han(c)},
    )


def save(roles: CorpusRoles, folder: Path):
    (Path(folder) / ROLES_FILE).write_text(roles.to_json(), encoding="utf-8")


def load(folder) -> CorpusRoles | None:
    """The roles saved with a model folder; None where there are none (a model app.py did not
    train)."""
    path = Path(folder) / ROLES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CorpusRoles(
            dict(data["in_names"]),
            dict(data["elsewhere"]),
            dict(data["given_names"]),
            dict(data.get("surnames", {})),  # a model saved before surnames were counted: none
        )
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(
            f"{path} is damaged ({type(e).__name__}): train the model again with app.py, or delete "
            "that file to list names without the training corpus's roles"
        ) from None
