"""What a run leaves behind, and how it never loses what an earlier run left: one run at a time per
--output_dir (a lock), the model folder swapped in atomically (and put back if a run dies mid-swap),
result.txt replaced in one step, the loss plot, the model card, and publishing to the Hugging Face
hub.

It checks folders before any work, so a run never fails only after training. What the model folder
holds besides the card and the plot is app.py's to say.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import device
import roles
from errors import UserError

logger = logging.getLogger("app.outputs")

# Where app.py saves the model by default, and where demo.py looks for it.
DEFAULT_OUTPUT_DIR = "outputs/bert-base-chinese-names"
# The default reports: a suggest-only run (--do_train False) has its own, so it never replaces the
# training run's report (loss before and after, both tables).
TRAINING_REPORT = "result.txt"
SUGGEST_REPORT = "suggestions.txt"

# What a folder this script saved (or checkpointed into) holds; a folder with anything else is not
# replaced.
MODEL_FOLDER_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "metrics.json",
    "checkpoint-*",
)


def check_output_dir(output_dir: str):
    """Fail before training, not after, if the model could not be saved there, and never replace a
    folder that holds something else: the save swaps the whole folder (--output_dir ~/Documents
    would be lost).
    """
    path = Path(output_dir)
    if not output_dir.strip() or path.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise UserError(
            f"--output_dir '{output_dir}' is the current folder or one above it: pass a folder of"
            " its own, such as outputs/bert-base-chinese-names"
        )
    if path.exists() and not path.is_dir():
        raise UserError(f"--output_dir '{output_dir}' is a file: pass a folder path")
    if (
        path.is_dir()
        and any(path.iterdir())
        and not any(any(path.glob(p)) for p in MODEL_FOLDER_FILES)
    ):
        raise UserError(
            f"--output_dir '{output_dir}' holds files that are no saved model, and saving replaces"
            " the whole folder: pass a new or empty folder, or one this script saved a model to"
        )
    _probe_folder(path.parent, f"--output_dir '{output_dir}'", "a folder you can write to")


def check_result_file(
    result_file: str,
    output_dir: str | None,
    flag: str = "--result_file",
    example: str = "result.txt",
):
    """Fail before any work, not after training, if the report (or another file of results) could
    not be written there."""
    path = Path(result_file)
    if path.is_dir() or (output_dir and path.resolve() == Path(output_dir).resolve()):
        raise UserError(f"{flag} '{result_file}' is a folder: pass a file path such as {example}")
    _probe_folder(path.parent, f"{flag} '{result_file}'", "a file in a folder you can write to")


def _probe_folder(folder: Path, what: str, fix: str):
    """Create folder if needed and check that files can be made in it (a probe that is removed at
    once)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=folder))
    except OSError as e:
        raise UserError(f"{what} is not writable ({e.strerror}): pass {fix}") from None


@contextlib.contextmanager
def exclusive_output_dir(output_dir: str):
    """Only one run at a time writes a given --output_dir: a second one is refused in one line.

    The lock is a file beside the folder (.NAME.lock, flock'ed through filelock); it is removed
    while still held, so nothing is left behind, and a lock file that a killed run left is taken
    over and removed. While the lock is held, what a killed run left is cleaned up first
    (recover_output_dir).
    """
    import filelock

    path = Path(output_dir)
    lock_path = path.with_name(f".{path.name}.lock")
    lock = filelock.FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UserError(
            f"another run is writing to --output_dir '{output_dir}' right now: wait for it to end "
            "or pass another --output_dir"
        ) from None
    try:
        recover_output_dir(path)
        yield
    finally:
        # before the release: a waiting run then sees a new lock file
        lock_path.unlink(missing_ok=True)
        lock.release()


def recover_output_dir(path: Path):
    """Undo what a run killed mid-save left beside path (only ever called under the lock):
    a model moved aside (.NAME.old-PID) with no model in place is put back; staging folders are
    removed.
    """
    aside = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside and not path.exists():
        aside.pop().rename(path)
        logger.warning("restored %s, which a run killed while saving had moved aside", path)
    for leftover in [*aside, *path.parent.glob(f".{path.name}.new-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE): there is no moment without a
    model. False where the system or filesystem cannot, and the caller falls back to two renames."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc 2.28+ / not Linux
        return False
    at_fdcwd, rename_exchange = -100, 2  # from <fcntl.h> and <linux/fs.h>
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM):  # this filesystem cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def save_atomically(output_dir: str, write) -> None:
    """Call write(staging_folder), then swap the staging folder into output_dir.

    The swap is one atomic exchange where Linux offers it. Elsewhere the old folder is moved aside
    first and deleted only once the new one is in place; if anything fails it is put back, and if
    the process is killed between the two renames, the next run puts it back (recover_output_dir).
    Checkpoints the Trainer wrote into output_dir move with the new model (and back, if the swap
    fails).
    """
    path = Path(output_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    checkpoints = []
    try:
        write(staging)
        for ckpt in sorted(path.glob("checkpoint-*")) if path.is_dir() else []:
            ckpt.rename(staging / ckpt.name)
            checkpoints.append(ckpt)
        if path.exists() and exchange_paths(staging, path):
            checkpoints = []
            shutil.rmtree(staging, ignore_errors=True)  # it now holds the old model
            return
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        if path.exists():
            path.rename(old)
        try:
            staging.rename(path)
        # also Ctrl-C or SIGTERM between the two renames: put the old model back
        except BaseException:
            if old.exists() and not path.exists():
                old.rename(path)
            raise
        checkpoints = []
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        for ckpt in checkpoints:  # the old model keeps the checkpoints it had
            (staging / ckpt.name).rename(ckpt)
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
    length = (
        f"steps | {args.max_steps}" if args.max_steps > 0 else f"epochs | {args.num_train_epochs:g}"
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
| {length} |
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


def save_outputs(
    model,
    tokenizer,
    trainer,
    model_args,
    data_args,
    suggest_args,
    args,
    metrics: dict,
    n_rows: int,
    n_labelled: int,
    corpus_roles=None,
):
    def write(folder: Path):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "metrics.json").write_text(
            json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
        )
        # roles.py: the corpus's given-name characters, read back with the model
        if corpus_roles is not None:
            roles.save(corpus_roles, folder)
        plot_losses(trainer.state.log_history, metrics["eval_loss_before"], folder / "loss.png")
        (folder / "README.md").write_text(
            model_card(model_args, data_args, suggest_args, args, metrics, n_rows, n_labelled),
            encoding="utf-8",
        )

    try:
        save_atomically(args.output_dir, write)
    except (
        OSError
    ) as e:  # disk full, folder removed meanwhile, ...: the previous model is back in place
        raise UserError(
            f"could not save the model to '{args.output_dir}' ({e.strerror or e}): the previous"
            " model there is untouched; free some space or pass another --output_dir, and run"
            " again"
        ) from None


def write_result_file(path: str, lines: list[str]):
    """Replace result.txt in one step: a half-written report is worse than the old one."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"could not write the report to '{path}' ({e.strerror or e}): the model is saved; "
            "pass another --result_file next time"
        ) from None


def write_suggestions_file(path: str, records: list[dict]):
    """--suggestions_file: the name table's records (report.suggestion_records) as JSON, replaced
    in one step."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # One record a line: a list a person can read, and json.load reads it the same.
        rows = ",\n".join(json.dumps(record, ensure_ascii=False) for record in records)
        tmp.write_text(f"[\n{rows}\n]\n" if records else "[]\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"could not write the names to '{path}' ({e.strerror or e}): pass another "
            "--suggestions_file"
        ) from None


def _hub_token(args) -> str | None:
    import huggingface_hub

    return args.hub_token or huggingface_hub.get_token()


def check_can_publish(args):
    """--push_to_hub: refused at the start, not after training, where it cannot work."""
    import huggingface_hub

    if not args.do_train:
        raise UserError(
            "--push_to_hub publishes the model that a training run saves; to publish a saved folder"
            " use: hf upload REPO_ID FOLDER"
        )
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise UserError(
            "--push_to_hub needs the network, but HF_HUB_OFFLINE=1: unset it, or drop --push_to_hub"
        )
    token = _hub_token(args)
    if not token:
        raise UserError(
            "--push_to_hub needs a Hugging Face token: run hf auth login or set HF_TOKEN "
            "(or pass --hub_token), or drop --push_to_hub"
        )
    try:
        huggingface_hub.whoami(token=token)
    except Exception as e:  # no network, bad token, hub down: all mean it cannot publish now
        raise UserError(
            "--push_to_hub: the Hugging Face hub cannot be reached with this token"
            f" ({type(e).__name__}): check the network and the token, or drop --push_to_hub"
        ) from None


def publish_model(args) -> str:
    """Upload the folder the atomic save wrote (model, tokenizer, card, loss.png, metrics.json);
    returns its URL."""
    import huggingface_hub

    repo_id = args.hub_model_id or Path(args.output_dir).resolve().name
    token = _hub_token(args)
    try:
        # The hub returns the full id (a bare name lands in the token owner's namespace).
        repo_id = huggingface_hub.create_repo(
            repo_id, token=token, private=args.hub_private_repo, exist_ok=True
        ).repo_id
        huggingface_hub.upload_folder(
            repo_id=repo_id,
            folder_path=args.output_dir,
            token=token,
            ignore_patterns=["checkpoint-*"],
            commit_message="Upload the name suggester fine-tuned by app.py",
        )
    except Exception as e:
        raise UserError(
            f"the model is saved in '{args.output_dir}', but publishing it failed"
            f" ({type(e).__name__}): upload it later with: hf upload {repo_id} {args.output_dir}"
        ) from None
    return f"https://huggingface.co/{repo_id}"


def check_before_work(suggest_args, args):
    """Everything that can be checked without the model or the corpus: output folder, report file,
    publishing."""
    if args.do_train:
        check_output_dir(args.output_dir)
    check_result_file(suggest_args.result_file, args.output_dir if args.do_train else None)
    if suggest_args.suggestions_file:
        check_result_file(suggest_args.suggestions_file, None, "--suggestions_file", "names.json")
    if args.publish:
        check_can_publish(args)
