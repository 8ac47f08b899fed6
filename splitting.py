"""The train/test split: whole given names held out, so the name score asks for names the model
never saw, and one line saying what the test split's names are.

A row split of train.json put every one of its test names into training as well, and the name
score then measured recall of memorised names. This module decides which rows are test rows and
counts the test names (seen in training or not); it does not read, check or tokenize the corpus
(corpus.py) and computes no score (evaluation.py).
"""

from __future__ import annotations

import logging
import math

from corpus import given_name_span
from errors import UserError

logger = logging.getLogger("app.splitting")


def split_corpus(tokenized, test_size: float, seed: int, hold_out_names: bool = True) -> dict:
    """{"train": ..., "test": ...}, reproducible with the seed. The test split gets two columns
    more: given_name (from 'label'; None without one) and name_seen (that name also trains).

    With hold_out_names and labels, whole given names are held out: every sentence of a name lands
    on one side, so the name score asks for names the model never saw (a row split of train.json
    put all of its ~10 test names into training as well). Names are drawn in a seeded order and
    taken while they fit into the test size; unlabelled rows are drawn one by one among them. With
    fewer than two names, or none small enough to fit, the split is by rows (and
    describe_test_names says so).
    """
    n = len(tokenized)
    n_test = int(test_size) if test_size >= 1 else math.ceil(n * test_size)
    if n < 2 or n_test < 1 or n - n_test < 1:
        raise UserError(
            f"the corpus has {n} rows, too few to split into train and test with --test_size"
            f" {test_size}: add sentences (a few dozen at least) or change --test_size"
        )
    givens = _given_names(tokenized)
    split = _split_by_names(givens, n_test, seed) if hold_out_names else None
    if split is None:
        numbered = tokenized.add_column("corpus_row", list(range(n)))
        rows = numbered.train_test_split(test_size=n_test, seed=seed)
        train_givens = [givens[i] for i in rows["train"]["corpus_row"]]
        test_givens = [givens[i] for i in rows["test"]["corpus_row"]]
        train, test = (rows[half].remove_columns("corpus_row") for half in ("train", "test"))
    else:
        train_idx, test_idx = split
        train, test = tokenized.select(train_idx), tokenized.select(test_idx)
        train_givens, test_givens = [givens[i] for i in train_idx], [givens[i] for i in test_idx]
    trained = set(train_givens)
    test = test.add_column("given_name", test_givens)
    test = test.add_column("name_seen", [g is not None and g in trained for g in test_givens])
    return {"train": train, "test": test}


def _given_names(tokenized) -> list[str | None]:
    """Each row's given name, from the same span that makes its name_mask; None without one."""
    if "label" not in tokenized.column_names:
        return [None] * len(tokenized)
    found = []
    for text, label in zip(tokenized["text"], tokenized["label"], strict=True):
        span = given_name_span(text, label)
        found.append(text[span[0] : span[1]] if span else None)
    return found


def _split_by_names(givens: list[str | None], n_test: int, seed: int):
    """(train rows, test rows) with every given name's rows on one side; None where no name can be
    held out (fewer than two names, or each one has more rows than the test split)."""
    import numpy as np

    groups: dict = {}
    for i, given in enumerate(givens):
        if given is not None:
            groups.setdefault(given, []).append(i)
    if len(groups) < 2:
        return None
    keys = sorted(groups)  # a fixed order for the seeded draw
    rng = np.random.default_rng(seed)
    test: list[int] = []
    # Names first: an unlabelled row always fits, and drawn among the names it could fill the
    # test split before any name did.
    for k in rng.permutation(len(keys)):
        if len(test) + len(groups[keys[k]]) <= n_test and len(test) < n_test:
            test += groups[keys[k]]
    if not test or len({givens[i] for i in test}) == len(keys):
        return None  # no name fits, or every name went to test: nothing would train on names
    unlabelled = [i for i, given in enumerate(givens) if given is None]
    test += [unlabelled[int(k)] for k in rng.permutation(len(unlabelled))][: n_test - len(test)]
    if len(test) < 0.8 * n_test:
        logger.warning(
            f"the test split holds {len(test)} sentences, not {n_test}: whole names are held out"
            " and the next one did not fit; --test_size or --hold_out_names False changes that"
        )
    held = set(test)
    train = [int(i) for i in rng.permutation(len(givens)) if int(i) not in held]
    return train, test


def test_name_counts(test) -> dict:
    """metrics.json's count of the test split's distinct given names that training also holds
    (seen) and does not (unseen); {} for a corpus without name labels."""
    if "given_name" not in test.column_names or all(g is None for g in test["given_name"]):
        return {}
    pairs = {(g, s) for g, s in zip(test["given_name"], test["name_seen"], strict=True) if g}
    return {
        "test_names_unseen": sum(not seen for _, seen in pairs),
        "test_names_seen": sum(seen for _, seen in pairs),
    }


def describe_test_names(test, hold_out_names: bool, labelled: bool = False) -> str:
    """One line on what the name score is measured on, for the data block and the model card;
    labelled: whether the corpus has name labels at all (the test split may hold none of them)."""
    counts = test_name_counts(test)
    if not counts and labelled:
        return (
            "测试集的名字 test names: none of the test sentences has a name label: no name score"
            " (a larger --test_size holds some)"
        )
    if not counts:
        return (
            "测试集的名字 test names: none, the corpus has no name labels: no name score"
            ' (a row\'s "label" is its full name, 张涛)'
        )
    unseen, seen = counts["test_names_unseen"], counts["test_names_seen"]
    if not hold_out_names:
        how = "split by sentence (--hold_out_names False)"
    elif seen:
        how = (
            "no name could be held out whole (fewer than two names, or none fits the test split),"
            " so split by sentence"
        )
    else:
        how = "every sentence of a name on one side (--hold_out_names)"
    return (
        f"测试集的名字 test names: {unseen} given names never seen in training, {seen} also in"
        f" training; {how}"
    )
