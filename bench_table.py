"""Benchmark: what a name table's sense, source and sound cost (python bench.py table).

Issue 27 allows a 20-row two-character table with sense (含义), source (出处) and sound (谐音) at
most 1.2 times the table without them. Both are timed in one process, alternately, on one model
(the bert-base-chinese-shaped stand-in unless --model): the beam search, then the rows as
suggestions.presentable (the names whose sound is marked embarrassing dropped), then
name_table.format_suggestions make them, once as they are and once with name_words.senses,
name_words.homophones and name_sources.source answering nothing (the table as it was before them:
the search's first top_k names). A whole run of app.py is too noisy on a shared machine to show
a 20% step; the parts are what differ. The first table also reads the data files (once a
process): reported apart, as "first".
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import beam_search
import modeling
import name_sources
import name_table
import name_words
import names
import standin
import suggestions

HERE = Path(__file__).resolve().parent


@contextmanager
def without_words():
    """The table as it was before sense, source and sound: those three answer nothing."""
    saved = name_words.senses, name_words.homophones, name_sources.source
    name_words.senses = lambda char: []
    name_words.homophones = lambda surname, given: []
    name_sources.source = lambda given: None
    try:
        yield
    finally:
        name_words.senses, name_words.homophones, name_sources.source = saved


def rows(found, surname: str, top_k: int) -> list[str]:
    """What a table costs past the search: the names kept, their records and printed lines."""
    return name_table.format_suggestions(
        "top", suggestions.presentable(found, surname, top_k), surname
    )


def seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def clear_word_caches():
    """As a new process finds them: nothing read yet."""
    for cached in (name_words._senses, name_words._sounds, name_sources._lines):
        cached.cache_clear()


def table(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-table-"))
    folder = opts.model or standin.build_base_model(
        work / "base-model", HERE / "train.json", opts.vocab
    )
    model, tokenizer = modeling.load_model_and_tokenizer(str(folder), for_training=False)
    model.eval()
    surname, gender = opts.surname, opts.gender
    search = dict(
        prompt=names.prompt(surname, gender, 2),
        top_k=suggestions.deeper(opts.top_k),  # as app.py searches (suggestions.suggest)
        beam_width=2 * opts.top_k,
        gender=gender,
        exclude=surname,
        registrable_only=True,
    )
    found = beam_search.suggest_names(model, tokenizer, **search)  # warm: vocabulary tables
    with without_words():
        rows(found, surname, opts.top_k)  # warm: pinyin, Unihan
    clear_word_caches()
    first = seconds(lambda: rows(found, surname, opts.top_k))
    times = {"search": [], "bare": [], "full": []}
    for _ in range(opts.repeats):
        times["search"].append(
            seconds(lambda: beam_search.suggest_names(model, tokenizer, **search))
        )
        with without_words():
            times["bare"].append(seconds(lambda: rows(found, surname, opts.top_k)))
        times["full"].append(seconds(lambda: rows(found, surname, opts.top_k)))
    med = {k: statistics.median(v) for k, v in times.items()}
    before = med["search"] + med["bare"]
    print(
        f"table: {surname} {gender}, {opts.top_k} two-character names, {folder}; medians of"
        f" {opts.repeats} alternating rounds (wall seconds)"
    )
    print("\n| part | without sense, source, sound | with them |")
    print("|---|---:|---:|")
    print(f"| beam search | {med['search']:.3f} | {med['search']:.3f} |")
    print(f"| records and table | {med['bare'] * 1000:.1f} ms | {med['full'] * 1000:.1f} ms |")
    print(f"| first table (reads the data files) | - | {first * 1000:.1f} ms |")
    print(f"\nfirst table: {(med['search'] + first) / before:.2f}x")
    print(f"later tables: {(med['search'] + med['full']) / before:.2f}x")
