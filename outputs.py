"""What a run leaves behind, and how it never loses what an earlier run left: one run at a time per
--output_dir (a lock), the model folder swapped in atomically (and put back if a run dies mid-swap),
result.txt replaced in one step, and publishing to the Hugging Face hub. The model card and the
loss plot it writes into the folder are model_card.py's.

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

import corpus
import model_card
import roles
from errors import UserError

logger = logging.getLogger("app.outputs")

# Where app.py saves the model by default, and where demo.py looks for it.
DEFAULT_OUTPUT_DIR = "outputs/bert-base-chinese-names"
# The default reports: a suggest-only run (--do_train False) has its own, so it never replaces the
# training run's report (loss before and after, both tables).
TRAINING_REPORT = "result.txt"
SUGGEST_REPORT = "suggestions.txt"

# What a folder this script saved (or checkpointed into) holds; a folder with anything
# else is not replaced.
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
        set_modes_as_umask_allows(staging)
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


def set_modes_as_umask_allows(folder: Path):
    """Folders 0777 and files 0666 less the umask (0755 and 0644 under the usual 022), as mkdir and
    open make them. mkdtemp makes the staging folder 0700 and safetensors writes the weights 0600
    (through a temporary file), so a saved model was unreadable to the group and others, who could
    still read every other file in it; one rule for all, the user's own, is what they expect."""
    umask = current_umask()
    for item in [folder, *folder.rglob("*")]:
        if not item.is_symlink():
            item.chmod((0o777 if item.is_dir() else 0o666) & ~umask)


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only set
    it, which for a moment would change it for every thread)."""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def save_outputs(
    model,
    tokenizer,
    trainer,
    model_args,
    data_args,
    suggest_args,
    args,
    metrics: dict,
    rows,
    corpus_roles=None,
):
    """The model folder, written atomically: model, tokenizer, metrics.json, corpus_roles.json,
    loss.png and the card, which counts the corpus's rows and the labels found in their text."""
    n_rows, n_labelled = len(rows), corpus.count_labelled(rows)

    def write(folder: Path):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "metrics.json").write_text(
            json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
        )
        # roles.py: the corpus's given-name characters, read back with the model
        if corpus_roles is not None:
            roles.save(corpus_roles, folder)
        before = metrics["eval_loss_before"]
        model_card.plot_losses(trainer.state.log_history, before, folder / "loss.png")
        card = model_card.model_card(
            model_args, data_args, suggest_args, args, metrics, n_rows, n_labelled
        )
        (folder / "README.md").write_text(card, encoding="utf-8")

    try:
        save_atomically(args.output_dir, write)
    except OSError as e:
        # disk full, folder removed meanwhile, ...: the previous model is back in place
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
    """--suggestions_file: the name table's records (name_table.suggestion_records) as JSON,
    replaced in one step."""
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
