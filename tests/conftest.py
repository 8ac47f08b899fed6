"""Tiny BERT models and corpora built in tmp_path: the tests never touch the network or the repo."""

import atexit
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Offline and quiet for every test, also for the subprocesses they start; datasets' cache in a
# temporary folder of the session, not in the user's.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_DATASETS_CACHE = tempfile.mkdtemp(prefix="naming-tests-datasets-")
os.environ["HF_DATASETS_CACHE"] = _DATASETS_CACHE
atexit.register(shutil.rmtree, _DATASETS_CACHE, ignore_errors=True)

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Tokens a fill-mask model can rank high that are no part of a name: the filter must drop them.
NOT_NAMES = ["，", "。", "！", "？", "0", "1", "2", "a", "b", "##a", "##涛"]


def read_corpus(path=REPO / "train.json"):
    return [
        json.loads(line)
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def make_tiny_model(folder: Path, texts, extra_tokens=(), layers=2, hidden=64, seed=0) -> Path:
    """A randomly initialised BertForMaskedLM whose vocab.txt is the corpus characters +
    specials."""
    from standin import build_model

    chars = sorted({c for t in texts for c in t} | set("小孩的名字叫张男女李欧阳"))
    vocab = SPECIAL + NOT_NAMES + [t for t in extra_tokens if t not in chars] + chars
    return build_model(
        folder,
        list(dict.fromkeys(vocab)),
        seed=seed,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )


def context_free_model(tokenizer, favourite: dict, others):
    """A tiny BertForMaskedLM whose logits ignore the context: its output layer is zero but for the
    bias, which is `others` (a (vocab,) tensor) with favourite[token] = value. Returns (model,
    log-probabilities).
    """
    import torch
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        tie_word_embeddings=False,
    )
    model = BertForMaskedLM(config).eval()
    bias = others.clone().float()
    for token, value in favourite.items():
        bias[tokenizer.convert_tokens_to_ids(token)] = value
    with torch.no_grad():
        model.cls.predictions.decoder.weight.zero_()
        model.cls.predictions.decoder.bias.copy_(bias)
        model.cls.predictions.bias.copy_(bias)
    return model, torch.log_softmax(bias, dim=0)


def ranked_model(tokenizer, favourite: list[str]):
    """A context-free model (above) that ranks favourite[0] first, favourite[1] second, ...; the
    other tokens below them, descending by id. Returns (model, log-probabilities)."""
    import torch

    others = -0.01 * torch.arange(len(tokenizer), dtype=torch.float)
    return context_free_model(
        tokenizer, {token: 10.0 - rank for rank, token in enumerate(favourite)}, others
    )


def write_jsonl(path: Path, rows) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def corpus_rows():
    """The rows of train.json, as dicts."""
    return read_corpus()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, corpus_rows):
    return make_tiny_model(
        tmp_path_factory.mktemp("tiny") / "model", [r["text"] for r in corpus_rows]
    )


def run_script(*argv, cwd):
    """`python app.py argv` in its own process, as a user runs it."""
    import subprocess

    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_model):
    """One real run of the script: tiny model, 60-sentence corpus, 2 epochs. (work folder, the
    process); the model is saved in work / "out", as app.py saves it (the page's tests serve it
    too)."""
    work = tmp_path_factory.mktemp("e2e")
    corpus = write_jsonl(work / "corpus.json", read_corpus()[:60])
    proc = run_script(
        "--model_name_or_path",
        tiny_model,
        "--train_file",
        corpus,
        "--output_dir",
        work / "out",
        "--num_train_epochs",
        2,
        "--per_device_train_batch_size",
        8,
        cwd=work,
    )
    return work, proc


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture
def small_corpus(tmp_path, corpus_rows):
    """60 rows of the real corpus: enough to split, quick to train."""
    return write_jsonl(tmp_path / "small.json", corpus_rows[:60])


# ---- real runs stopped at a known point ------------------------------------------------------
# A run of app.py in its own process, with a Trainer callback that acts at a known point of
# training instead of a test that races the run (on a GPU a tiny run ends in about a second). The
# callback is added where app.py builds its Trainer (training.build_trainer); what it does is one
# of:
AT_KNOWN_POINT = {
    # SIGSTOP after the first optimizer step: the run holds --output_dir's lock and has trained,
    # saved nothing.
    "pause_after_first_step": (
        "def on_step_end(self, *a, **k):\n"
        "        if not self.done:\n"
        "            self.done = True\n"
        "            os.kill(os.getpid(), signal.SIGSTOP)\n"
    ),
    # SIGKILL once the first checkpoint is completely written (on_save comes after the whole
    # checkpoint).
    "die_after_first_checkpoint": (
        "def on_save(self, *a, **k):\n        os.kill(os.getpid(), signal.SIGKILL)\n"
    ),
}


def start_app(cwd, argv, at: str):
    """Popen of `app.py argv` with the AT_KNOWN_POINT[at] callback; stdout and stderr are pipes. For
    'pause_after_first_step' it returns once the process has stopped there (send SIGCONT to go on).
    """
    import subprocess

    code = f"""import os, signal, sys
sys.path.insert(0, {str(REPO)!r})
import app
import training
from transformers import TrainerCallback

class AtKnownPoint(TrainerCallback):
    done = False
    {AT_KNOWN_POINT[at]}
build = training.build_trainer
def build_with_callback(*args, **kwargs):
    trainer = build(*args, **kwargs)
    trainer.add_callback(AtKnownPoint())
    return trainer
training.build_trainer = build_with_callback
sys.exit(app.main({[str(a) for a in argv]!r}))
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if at == "pause_after_first_step":
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise AssertionError(
                f"the run ended before its first step (status {proc.returncode}): "
                f"{proc.stderr.read()[-2000:]}"
            )
    return proc
