"""Serving the page to many parents at once: requests that arrive together are answered together.

Gradio hands the page's function a batch of the requests waiting in its queue (batch=True, up to
max_batch_size; demo.build_page sets that and the queue's bound). serve_batch answers such a batch:
each request is checked on its own (a bad one gets its message, as alone), identical requests are
searched once, and all the searches run as one beam search over many prompts
(beam_search.suggest_many), so the model's forward passes are shared. Every answer is what the
request gets alone (tests/test_demo.py checks). BUSY is what a parent reads when the queue is full.

It holds no page layout, no input checks and no table code (demo.py), and imports no gradio.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple

import beam_search
from errors import UserError

logger = logging.getLogger("app.page")

# Requests per batch. On a CPU the forward passes of many requests together cost what they cost
# one by one (measured, docs/benchmarks.md): a batch gains by searching repeated requests once (a
# shared link's opening table), and costs each of its parents the wait for its last search. 8
# keeps that wait short; a GPU, which runs a batch in the time of one request, wants more.
MAX_BATCH_SIZE = 8
QUEUE_SIZE = 32  # requests waiting at most (~25 s of searches on 2 cores); past it: BUSY
BUSY_WORDS = "请稍后再试"
BUSY = (
    f"现在来起名的人太多了，{BUSY_WORDS}（几秒钟后再点一次「起名」）。"
    " Too many parents are asking right now: please try again in a moment."
)
FAILED = (
    "这次没有算出来，请再点一次「起名」。 Something went wrong with this request: please try again."
)


class Answer(NamedTuple):
    """What the page shows for one request, one string per output: the table, the summary, the
    message by the button (a shortfall, FAILED), and a note under each input (page_inputs.FIELDS)
    that says what is wrong with it."""

    table: str = ""
    quality: str = ""
    message: str = ""
    surname: str = ""
    how_many: str = ""
    fixed: str = ""
    avoid: str = ""
    source: str = ""


@dataclass
class Plan:
    """A checked request: the search to run (beam_search.suggest_names's arguments but the model and
    tokenizer) and what the answer needs besides the names it finds."""

    search: dict
    surname: str
    gender: str
    how_many: int
    source: str | None = None  # the classic whose pairs (the search's only_pairs) names come from
    # the same search, hashable: identical requests in a batch are searched once
    key: tuple = field(init=False)

    def __post_init__(self):
        # the roles and a classic's pairs are the same for every request that names them
        self.key = (self.source,) + tuple(
            sorted((k, v) for k, v in self.search.items() if k not in ("roles", "only_pairs"))
        )


def serve_batch(suggester, requests: list[tuple]) -> list[Answer]:
    """The Answer for each request (the page's inputs, in order). suggester
    checks a request (plan: a Plan, or the answer for bad input) and turns names into the answer
    (finish); the searches of the batch's good requests run together."""
    plans = [suggester.plan(*request) for request in requests]
    searches = {p.key: p.search for p in plans if isinstance(p, Plan)}
    try:
        found = dict(
            zip(
                searches,
                beam_search.suggest_many(
                    suggester.model, suggester.tokenizer, list(searches.values())
                ),
                strict=True,
            )
        )
    except Exception:
        # One parent's answer must not become a traceback on everyone's page: logged for the
        # operator, said plainly to each parent of the batch.
        logger.exception("the batched search failed")
        return [p if not isinstance(p, Plan) else Answer(message=FAILED) for p in plans]
    return [suggester.finish(p, found[p.key]) if isinstance(p, Plan) else p for p in plans]


def check_limits(max_batch_size: int, queue_size: int):
    """Both at least 1: a batch holds a request; a queue of none would turn every parent away."""
    for name, value in (("--max_batch_size", max_batch_size), ("--queue_size", queue_size)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, not {value}")


def batched(suggester):
    """serve_batch as Gradio's batch=True calls it: one list per input in, one per output out."""

    def suggest(*columns):
        answers = serve_batch(suggester, list(zip(*columns, strict=True)))
        return [list(outputs) for outputs in zip(*answers, strict=True)]

    return suggest
