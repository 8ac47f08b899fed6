"""What a run says: results on stdout in fixed, greppable shapes (Chinese first, the English keys beside), the
aligned name table, and library noise kept quiet. result.txt holds these same lines.

It computes nothing (the numbers come from training.py and names.py) and writes no files (outputs.py).
"""

from __future__ import annotations

import logging
import math
import unicodedata
import warnings

import datasets
from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging

import names

logger = logging.getLogger("app")  # corpus.py and outputs.py log to its children


class Report:
    """Collects the lines of result.txt while printing them (main process only)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.lines: list[str] = []

    def say(self, text: str = "", record: bool = True):
        if self.enabled:
            tqdm.write(text)  # prints above a running progress bar instead of through it
            if record:
                self.lines.append(text)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """str.ljust for terminals: a Han character is two columns wide."""
    return text + " " * max(0, width - display_width(text))


def table_rows(suggestions: list[tuple[str, float]], surname: str = "") -> list[tuple[str, str, str, str]]:
    """The name table's rows, (name, pinyin, lean, probability) as shown, for the terminal and for demo.py's page.

    The name is surname + given name; the lean is the statistics' ('男 94%': 94% of people with these name
    characters are boys)."""
    return [(surname + given, names.name_pinyin(surname, given), names.lean(given), format_probability(logp))
            for given, logp in suggestions]


def format_suggestions(title: str, suggestions: list[tuple[str, float]], surname: str = "") -> list[str]:
    """Lines of a suggestion table: rank, name, pinyin, lean, probability (table_rows), aligned for a terminal."""
    columns = table_rows(suggestions, surname)
    header = ("name", "pinyin", "lean", "probability")
    widths = [max(display_width(row[i]) for row in [header, *columns]) for i in range(3)]

    def line(rank, cells):
        return f"{rank:>4}  " + "  ".join(ljust(c, w) for c, w in zip(cells, widths)) + f"  {cells[3]}"

    return [title, line("rank", header)] + [line(rank, cells) for rank, cells in enumerate(columns, start=1)]


def format_tokens(suggestions: list[tuple[str, float]]) -> list[str]:
    """Lines of a raw-token table (--raw_predictions): rank, token, probability; no name columns."""
    width = max([display_width("token")] + [display_width(token) for token, _ in suggestions])
    return [f"{'rank':>4}  {ljust('token', width)}  probability"] + [
        f"{rank:>4}  {ljust(token, width)}  {format_probability(logp)}" for rank, (token, logp) in enumerate(suggestions, 1)]


def format_probability(logp: float) -> str:
    """0.012345, or 1.23e-08 where six decimals would show 0.000000 (two-character names of an untrained model)."""
    p = math.exp(logp)
    return f"{p:.6f}" if p >= 1e-4 else f"{p:.2e}"


def format_quality(scores: dict) -> str:
    """'名字质量 quality: gender_fit 0.9500  name_realism 1.0000' (gender_fit only for --gender boy|girl)."""
    shown = "  ".join(f"{k} {scores[k]:.4f}" for k in ("gender_fit", "name_realism") if k in scores)
    return f"名字质量 quality: {shown}"


def perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


WHEN_ZH = {"before training": "训练前", "after training": "训练后"}


def format_eval(when: str, metrics: dict) -> str:
    """One greppable line: '训练前 before training: eval_loss 9.8712  perplexity 19312.40  name_top1 0.0000 ...'."""
    line = f"{WHEN_ZH[when]} {when}: eval_loss {metrics['eval_loss']:.4f}  perplexity {perplexity(metrics['eval_loss']):.2f}"
    for k in ("name_top1", "name_top5", "name_top20"):
        if k in metrics:
            line += f"  {k} {metrics[k]:.4f}"
    return line


def show_examples(report: Report, tokenizer, processed, masked_batch):
    def render(ids):
        return "".join(t for t in tokenizer.convert_ids_to_tokens(ids) if t != tokenizer.pad_token)

    report.say(str(processed), record=False)
    report.say(f"example 0 decoded: {render(processed[0]['input_ids'])}", record=False)
    for i, (ids, labels) in enumerate(zip(masked_batch["input_ids"].tolist(), masked_batch["labels"].tolist())):
        targets = tokenizer.convert_ids_to_tokens([t for t in labels if t != -100])
        report.say(f"masked example {i}: {render(ids)}  (targets: {' '.join(targets)})", record=False)


def setup_logging(is_main: bool):
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    logger.setLevel(logging.INFO if is_main else logging.ERROR)
    # Library notices a user can do nothing about (unused pooler weights, tokenizer advice, ...).
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # weight loading/saving bars: a blink for this model size
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|transformers|accelerate)\..*")


def close_progress_bars():
    """A run stopped mid-training leaves the Trainer's bar open, and tqdm would redraw it at exit, after the
    line that says what happened: close it first."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
