"""What a run says: results on stdout in fixed, greppable shapes (Chinese first, the English keys
beside): the configuration, the data and its masked examples, the eval lines; and library noise
kept quiet. result.txt holds these same lines; the name table's own lines are name_table.py's.

It computes nothing (the numbers come from training.py and names.py) and writes no files
(outputs.py).
"""

from __future__ import annotations

import logging
import math
import warnings

import datasets
from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging

import splitting

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


def format_configuration(model_args, data_args, suggest_args, args, precision: str) -> list[str]:
    """The configuration block: what this run will do, aligned; a suggest-only run shows no
    training settings."""
    settings = {
        "model": model_args.model_name_or_path,
        "train_file": data_args.train_file,
        "output_dir": args.output_dir,
        **(
            {"steps": args.max_steps}
            if args.max_steps > 0
            else {"epochs": f"{args.num_train_epochs:g}"}
        ),
        "learning_rate": f"{args.learning_rate:g}",
        "batch_size": batch_size(args),
        "seed": args.seed,
        "mlm_probability": data_args.mlm_probability,
        "name_mask_probability": data_args.name_mask_probability,
        "precision": precision,
        "device": (
            f"{args.device} x"
            f" {args.world_size if args.n_gpu <= 1 else f'{args.n_gpu} (nn.DataParallel)'}"
        ),
        "prompt": suggest_args.resolved_prompt(),
        "gender": (
            f"{suggest_args.gender} (weight {suggest_args.gender_weight:g})"
            if suggest_args.gender != "any"
            else "any"
        ),
        # what a parent asked to leave out (避讳) is part of what the list means
        **({"avoid": suggest_args.avoid} if suggest_args.avoid else {}),
        **(
            {"suggestions_file": suggest_args.suggestions_file}
            if suggest_args.suggestions_file
            else {}
        ),
    }
    if not args.do_train:  # nothing is trained: the training settings do not apply
        for key in (
            "train_file",
            "output_dir",
            "epochs",
            "steps",
            "learning_rate",
            "batch_size",
            "seed",
            "mlm_probability",
            "name_mask_probability",
            "precision",
        ):
            settings.pop(key, None)
    width = max(map(len, settings))
    return [
        "== 配置 configuration",
        *(f"{key.ljust(width)}  {value}" for key, value in settings.items()),
    ]


def batch_size(args) -> str:
    """Rows per optimizer step, and how they are made: '64 (16 x 4 accumulated)', '16'. (The
    configuration said 16 under --gradient_accumulation_steps 4.)"""
    # train_batch_size: x GPUs under DataParallel; x processes under torchrun
    per_pass = args.train_batch_size * max(1, args.world_size)
    steps = args.gradient_accumulation_steps
    return f"{per_pass * steps} ({per_pass} x {steps} accumulated)" if steps > 1 else str(per_pass)


def format_quality(scores: dict) -> str:
    """'名字质量 quality: gender_fit 0.9500  name_realism 1.0000  registrable 1.0000' (gender_fit
    only for
    --gender boy|girl; registrable: the share of names a household register takes)."""
    shown = "  ".join(
        f"{k} {scores[k]:.4f}" for k in ("gender_fit", "name_realism", "registrable") if k in scores
    )
    return f"名字质量 quality: {shown}"


def perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


WHEN_ZH = {"before training": "训练前", "after training": "训练后"}


def format_eval(when: str, metrics: dict) -> str:
    """One greppable line: '训练前 before training: eval_loss 9.8712  perplexity 19312.40
    name_top1 0.0000 ...'."""
    line = (
        f"{WHEN_ZH[when]} {when}: eval_loss {metrics['eval_loss']:.4f}  perplexity"
        f" {perplexity(metrics['eval_loss']):.2f}"
    )
    for k in ("name_top1", "name_top5", "name_top20"):
        if k in metrics:
            line += f"  {k} {metrics[k]:.4f}"
    return line


def show_examples(report: Report, tokenizer, processed, train, masked_batch):
    """The processed dataset, then the first training rows (masking.masked_examples masked the
    same rows, in the same order): each decoded as it is, then as the collator masks it, with
    every target and what stands in its place (80% [MASK], 10% a random token, 10% itself: the
    80/10/10 rule, so a target can be read in its own sentence)."""

    def render(ids):
        return "".join(t for t in tokenizer.convert_ids_to_tokens(ids) if t != tokenizer.pad_token)

    report.say(str(processed), record=False)
    for i, (ids, labels) in enumerate(
        zip(masked_batch["input_ids"].tolist(), masked_batch["labels"].tolist(), strict=True)
    ):
        report.say(f"train example {i}: {render(train[i]['input_ids'])}", record=False)
        targets = masked_targets(tokenizer, ids, labels)
        report.say(f"masked example {i}: {render(ids)}  (targets: {targets})", record=False)


def masked_targets(tokenizer, ids: list[int], labels: list[int]) -> str:
    """'孩→[MASK] 倩=kept 叫→李': each target of a masked row and what the model reads in its
    place."""
    shown = []
    for now, target in zip(ids, labels, strict=True):
        if target == -100:
            continue
        original, read = tokenizer.convert_ids_to_tokens([target, now])
        shown.append(f"{original}=kept" if now == target else f"{original}→{read}")
    return " ".join(shown)


def setup_logging(is_main: bool):
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    logger.setLevel(logging.INFO if is_main else logging.ERROR)
    # Library notices a user can do nothing about (unused pooler weights, tokenizer advice, ...).
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # weight loading/saving bars: a blink for this model size
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings(
        "ignore", category=UserWarning, module=r"(torch|transformers|accelerate)\..*"
    )


def close_progress_bars():
    """A run stopped mid-training leaves the Trainer's bar open, and tqdm would redraw it at exit,
    after the line that says what happened: close it first."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


# Below this many sentences in a split, its numbers say little: a test split of 4 short sentences
# holds about 5 masked tokens, so one token more or less guessed moves the eval loss by a fifth.
FEW_ROWS = 5


def few_rows_warning(n_train: int, n_test: int) -> str | None:
    """A warning for a split too small to mean much (a 2-row corpus trains on 1 and tests on 1); a
    warning, not a refusal: a tiny corpus is how one tries the script out."""
    if min(n_train, n_test) >= FEW_ROWS:
        return None
    return (
        f"only {n_train} train / {n_test} test sentences: the eval loss, perplexity and name score"
        " of so few say little, and so little data teaches little; use a few dozen sentences or"
        " more"
    )


def show_data(
    report,
    n_rows: int,
    encoding: str,
    processed,
    train,
    test,
    tokenizer,
    masked,
    precision,
    data_args,
):
    """The data's sizes and its test names, the processed rows and the masked examples
    (masking.masked_examples); how the precision was settled."""
    report.say(f"== 数据 data: {n_rows} rows ({encoding}), {len(train)} train / {len(test)} test")
    labelled = "label" in processed.column_names and any(x is not None for x in processed["label"])
    report.say(splitting.describe_test_names(test, data_args.hold_out_names, labelled))
    if warning := few_rows_warning(len(train), len(test)):
        logger.warning(warning)
    show_examples(report, tokenizer, processed, train, masked)
    if precision:
        report.say(f"== 精度 precision: {precision}")
