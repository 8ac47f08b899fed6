"""Benchmark: what a name table's sense, source and sound cost (python bench.py table).

Issue 27 allows a 20-row two-character table with sense (含义), source (出处) and sound (谐音) at
most 1.2 times the table without them. Both are timed in one process, alternately, on one model
(the bert-base-chinese-shaped stand-in unless --model): the beam search, then the rows as
name_table.format_suggestions makes them, once as they are and once with name_words.senses,
name_words.homophones and name_sources.source answering nothing (the table as it was before
them). The search leaves out names whose sound is marked embarrassing in both: its cost is in the
search's time. A whole run of app.py is too noisy on a shared machine to show
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


def rows(found, surname: str) -> list[str]:
    """What a table costs past the search: its records and printed lines."""
    return name_table.format_suggestions("top", found, surname)


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
        top_k=opts.top_k,
        surname=surname,  # as app.py searches (suggestions.suggest): no embarrassing name
        gender=gender,
        exclude=surname,
        registrable_only=True,
    )
    found = beam_search.suggest_names(model, tokenizer, **search)  # warm: vocabulary tables
    with without_words():
        rows(found, surname)  # warm: pinyin, Unihan
    clear_word_caches()
    first = seconds(lambda: rows(found, surname))
    times = {"search": [], "bare": [], "full": []}
    for _ in range(opts.repeats):
        times["search"].append(
            seconds(lambda: beam_search.suggest_names(model, tokenizer, **search))
        )
        with without_words():
            times["bare"].append(seconds(lambda: rows(found, surname)))
        times["full"].append(seconds(lambda: rows(found, surname)))
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
