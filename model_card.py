"""What the saved model folder tells its reader: the model card (README.md) and the loss plot.

The card says where the model came from (base model, corpus, settings), the held-out scores and how
to read them (the name score on seen and unseen names, the list checks that hold by construction),
and how to use it; loss.png draws the losses of the evaluations made during training. It writes no
file itself: outputs.save_outputs puts both into the folder it saves atomically.
"""

from __future__ import annotations

from pathlib import Path

import device


def training_curve(log_history: list[dict], before: float) -> tuple[list, list]:
    """(train losses, eval losses) as (epoch, loss) points, from the evaluations made during
    training only: with --load_best_model_at_end the best checkpoint's evaluation after training
    is logged at the last step too, and drawn it looked like a jump at the last epoch."""
    end = next((i for i, e in enumerate(log_history) if "train_runtime" in e), len(log_history))
    during = log_history[:end]
    train = [(e["epoch"], e["loss"]) for e in during if "loss" in e and "epoch" in e]
    evals = [(0.0, before)] + [
        (e["epoch"], e["eval_loss"]) for e in during if "eval_loss" in e and e.get("step")
    ]
    return train, evals


def plot_losses(log_history: list[dict], before: float, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, evals = training_curve(log_history, before)
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train, strict=True), marker="o", label="train loss")
    ax.plot(*zip(*evals, strict=True), marker="s", label="eval loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MLM loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def model_card(
    model_args, data_args, suggest_args, args, metrics: dict, n_rows: int, n_labelled: int
) -> str:
    held_out, checks, speed = card_tables(metrics)
    # What the corpus is, from the corpus itself: any corpus trains, not only sentences about names.
    labels = f"{n_labelled} with a name label" if n_labelled else "no name labels"
    quality = ""
    if "name_realism" in metrics:
        prompt, gender = suggest_args.resolved_prompt(), suggest_args.gender
        quality = f"""
These check the list's own filters, they do not score the model: the table admits only names
that pass them, so name_realism (characters people really use in given names), registrable
(characters of the 2013 standard table, with --registrable_only) and gender_fit (names leaning to
the asked gender, {gender}, for `{prompt}`) are 1.0000 by construction; below 1 a filter failed.
"""
    unit, count = (
        ("steps", args.max_steps)
        if args.max_steps > 0
        else ("epochs", f"{args.num_train_epochs:g}")
    )
    return f"""---
language: zh
base_model: {model_args.model_name_or_path}
pipeline_tag: fill-mask
---
# {"取名模型 / Chinese given-name suggester" if n_labelled else "掩码语言模型 / fill-mask model"}

Fine-tuned from `{model_args.model_name_or_path}` with masked-language modelling on
`{data_args.train_file}` ({n_rows} sentences, {labels}) by `app.py`.

```python
from transformers import pipeline
pipeline("fill-mask", model="{args.output_dir}")("{suggest_args.resolved_prompt()}")
```

## Settings
| setting | value |
|---|---|
| {unit} | {count} |
| learning rate | {args.learning_rate:g} |
| batch size per device | {args.per_device_train_batch_size} |
| gradient accumulation steps | {args.gradient_accumulation_steps} |
| seed | {args.seed} |
| mlm_probability | {data_args.mlm_probability} |
| name_mask_probability | {data_args.name_mask_probability} |
| precision | {device.precision_of(args)} |

## Scores on the held-out split
| metric | value |
|---|---|
{held_out}

Loss and perplexity are measured on the same masked test tokens before and after: the mean loss
over all masked tokens of the test split. name_topK (where the corpus has name labels): share of
held-out given-name characters that the model ranks in its top K when the whole given name is
masked. {test_names_sentence(metrics)}

## The suggested list
| check | value |
|---|---|
{checks}
{quality}
## Speed of this run
| measure | value |
|---|---|
{speed}

![loss](loss.png)
"""


# Scores of the name list (suggestions.suggestion_quality) and the run's timings: not held-out
# scores, so the card keeps them in tables of their own.
LIST_CHECKS = ("gender_fit", "name_realism", "registrable")
SPEED = ("train_seconds", "seconds_per_step", "first_step_seconds", "median_step_seconds")
SPEED += ("train_tokens", "tokens_per_second")


def card_tables(metrics: dict) -> tuple[str, str, str]:
    """The card's three tables: held-out scores, checks of the suggested list, speed."""

    def rows(keys):
        return (
            "\n".join(
                f"| {k} | {metrics[k]:.4f} |"
                if isinstance(metrics[k], float)
                else f"| {k} | {metrics[k]} |"
                for k in keys
                if metrics.get(k) is not None
            )
            or "| - | - |"
        )

    held_out = [
        k
        for k, v in metrics.items()
        if isinstance(v, float) and k.removesuffix("_before") not in (*LIST_CHECKS, *SPEED)
    ]
    checks = [f"{k}{when}" for k in LIST_CHECKS for when in ("_before", "")]
    return rows(held_out), rows(checks), rows(SPEED)


def test_names_sentence(metrics: dict) -> str:
    """What the name score is measured on, in words."""
    if "test_names_unseen" not in metrics:
        return "The corpus has no name labels, so there is no name score."
    unseen, seen = metrics["test_names_unseen"], metrics["test_names_seen"]
    if not seen:
        return (
            f"The test split holds {unseen} given names that never occur in training (every"
            " sentence of a name is on one side of the split), so name_topK measures names the"
            " model never saw."
        )
    return (
        f"The test split holds {seen} given names that training also holds and {unseen} that it"
        " does not: name_topK_seen measures recall of names trained on, name_topK_unseen names the"
        " model never saw."
    )
