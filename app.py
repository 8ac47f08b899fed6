"""Fine-tune bert-base-chinese with masked-language modelling so that it suggests given names.

    python app.py                                    # train on train.json, write result.txt
    python app.py --num_train_epochs 5 --seed 7      # every transformers.TrainingArguments flag works
    python app.py --do_train False --model_name_or_path outputs/bert-base-chinese-names \
        --surname 李 --gender girl --name_length 2   # suggest names from a saved model, no training
    torchrun --nproc_per_node 2 app.py               # data-parallel; or accelerate launch --multi_gpu ...

What it does, in order (main() reads the same way): load the model and tokenizer, load the corpus
(JSON Lines or a JSON array of {"text": ..., "label": "张涛"}), tokenize it keeping `word_ids`,
split train/test with --seed, mask the test split once, evaluate (loss, perplexity, name score) and
suggest names, train with transformers.Trainer, evaluate again on the same masked test split, save
model + tokenizer + metrics.json + loss.png + a model card atomically to --output_dir, reload the
saved model and suggest names again, and write the whole report to --result_file.

The name tables (names.py) list only characters that real given names use, ranked for --gender with real
naming statistics, with pinyin and each name's lean (男 94%); two-character lists vary (--max_per_character).
Every bad input (a GBK or UTF-16 corpus is fine; a broken one is not) ends in one `error:` line and exit
status 2 before any training; SIGTERM and Ctrl-C leave the previous model and report as they were.

Cost: the default run (350 sentences, 3 epochs) takes about 40 seconds on 2 CPU cores with a
model of bert-base-chinese's shape. It writes --output_dir (about 400 MB) and result.txt.

It does not download anything but the model (once, into the Hugging Face cache); with
HF_HUB_OFFLINE=1 it only uses the cache or a local folder.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import errno
import gc
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow.compute as pc
import torch
import torch.nn.functional as F
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    DataCollatorForTokenClassification,
    HfArgumentParser,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import logging as hf_logging
from tqdm.auto import tqdm

import names
from names import HAN_CHAR

logger = logging.getLogger("app")

# Double surnames, so that 欧阳娜 splits into 欧阳 + 娜 and not 欧 + 阳娜.
DOUBLE_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 令狐 慕容 司徒 夏侯 尉迟 公孙 长孙 宇文 轩辕 端木 独孤 南宫 西门 百里 呼延 澹台 东郭 闻人".split()
)
# Prompt templates per --gender: the same sentence patterns as train.json, so a trained model has seen them.
PROMPT_TEMPLATES = {"any": "小孩的名字叫{surname}{masks}", "boy": "男孩的名字叫{surname}{masks}", "girl": "女孩的名字叫{surname}{masks}"}
MASK = "[MASK]"


class UserError(Exception):
    """Bad input: main() prints it as one line and exits with status 2, no traceback."""


class Terminated(BaseException):
    """SIGTERM (schedulers, docker stop): unwinds like Ctrl-C, so nothing half-written is left in place.
    A BaseException, so that no library's `except Exception` swallows it."""


# ----------------------------------------------------------------------------------------------
# Options. Every default lives here, with its reason.
# ----------------------------------------------------------------------------------------------
@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="bert-base-chinese",
        metadata={"help": "Hub name (from the Hugging Face cache, downloaded the first time) or a local model folder."},
    )


@dataclass
class DataArguments:
    train_file: str = field(
        default="train.json",
        metadata={"help": 'JSON Lines or a JSON array of {"text": ..., "label": "张涛"}; "label" is optional.'},
    )
    test_size: float = field(
        default=0.15,  # ~50 held-out sentences of the 350: enough for a stable eval loss and name score
        metadata={"help": "Held-out share (0-1) or number of rows (>= 1) for evaluation."},
    )
    max_seq_length: int = field(
        default=64,  # corpus sentences are under 20 characters; 64 leaves room for users' longer ones
        metadata={"help": "Longer texts are truncated, with a warning."},
    )
    mlm_probability: float = field(
        default=0.15,  # BERT's own pre-training rate
        metadata={"help": "Share of tokens masked for masked-language modelling."},
    )
    name_mask_probability: float = field(
        # bench.py names, tiny model from scratch: name_top20 0.34 (0) -> 0.46 (0.5) -> 0.50 (1.0), eval loss
        # flat. Not 1.0: then a name is always masked whole and the model never learns its second
        # character given the first, which the two-character beam search asks for.
        default=0.5,
        metadata={"help": "Chance that a training sentence also gets its whole given name (from 'label') masked."},
    )

    def __post_init__(self):
        if not 0 < self.mlm_probability <= 1:
            raise UserError(f"--mlm_probability must be in (0, 1], got {self.mlm_probability}")
        if not 0 <= self.name_mask_probability <= 1:
            raise UserError(f"--name_mask_probability must be in [0, 1], got {self.name_mask_probability}")
        if self.test_size <= 0 or (self.test_size >= 1 and self.test_size != int(self.test_size)):
            raise UserError(f"--test_size must be a share in (0, 1) or a whole number of rows, got {self.test_size}")
        if self.max_seq_length < 8:
            raise UserError(f"--max_seq_length must be at least 8, got {self.max_seq_length}")


@dataclass
class SuggestArguments:
    surname: str = field(default="张", metadata={"help": "Surname for the prompt; double surnames such as 欧阳 work."})
    gender: str = field(default="any", metadata={"help": "boy, girl or any: picks the prompt's sentence pattern."})
    name_length: int = field(default=1, metadata={"help": "Given-name length: 1 or 2 characters."})
    prompt: str | None = field(
        default=None,
        metadata={"help": "Explicit prompt with [MASK] (wins over --surname/--gender). Default: 小孩的名字叫张[MASK]."},
    )
    top_k: int = field(default=20, metadata={"help": "How many suggestions to print."})
    gender_weight: float = field(
        default=names.GENDER_WEIGHT,  # measured: README「名字表」
        metadata={"help": "With --gender boy|girl: weight of log P(gender | name) from real naming statistics "
                          "beside the model's log-probability (0: the model alone)."},
    )
    max_per_character: int = field(
        default=names.MAX_PER_CHARACTER,  # 20 rows then use at least 10 characters in each position
        metadata={"help": "Two-character names: at most this many rows share a character in one position (0: no limit)."},
    )
    raw_predictions: bool = field(
        default=False,
        metadata={"help": "List the model's raw top-k tokens (punctuation, rare characters, ...): no name filter, "
                          "no gender, no variety rule."},
    )
    result_file: str = field(default="result.txt", metadata={"help": "Where the run's report is written."})

    def __post_init__(self):
        if self.gender not in PROMPT_TEMPLATES:
            raise UserError(f"--gender must be boy, girl or any, got {self.gender!r}")
        if self.name_length not in (1, 2):
            raise UserError(f"--name_length must be 1 or 2, got {self.name_length}")
        if not self.surname or not all(HAN_CHAR.fullmatch(c) for c in self.surname) or len(self.surname) > 2:
            raise UserError(f"--surname must be one or two Chinese characters (张, 欧阳), got {self.surname!r}")
        if self.top_k < 1:
            raise UserError(f"--top_k must be at least 1, got {self.top_k}")
        if not self.gender_weight >= 0:
            raise UserError(f"--gender_weight must be 0 or more, got {self.gender_weight}")
        if self.max_per_character < 0:
            raise UserError(f"--max_per_character must be 0 (no limit) or more, got {self.max_per_character}")
        if self.prompt is not None and self.prompt.count(MASK) not in (1, 2):
            raise UserError(f"--prompt must contain {MASK} once (or twice for a two-character name), got {self.prompt!r}")

    def resolved_prompt(self) -> str:
        """The prompt with one [MASK] per given-name character: --prompt if given, else the gender template."""
        if self.prompt is not None:
            if self.prompt.count(MASK) == 1 and self.name_length == 2:
                return self.prompt.replace(MASK, MASK * 2)
            return self.prompt
        return PROMPT_TEMPLATES[self.gender].format(surname=self.surname, masks=MASK * self.name_length)


def keep_freed_memory():
    """Stop glibc from handing freed memory back to the OS.

    A training step allocates and frees large weight casts and gradients; by default glibc unmaps
    every large block on free, so the next step page-faults it all in again. Keeping it makes a
    default CPU run of a bert-base-chinese-shaped model ~1.1x faster (measured, 2 cores: 0.60 ->
    0.54 s a step); the price is that RSS stays at its peak until the process ends (~+550 MB).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): nothing to tune
        return
    m_trim_threshold, m_mmap_max = -1, -4  # from <malloc.h>
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def _no_accelerator() -> bool:
    return not torch.cuda.is_available() and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def _native_bf16() -> bool:
    """bf16 is faster only where the hardware computes it natively (AMX / AVX512-BF16 CPUs, Ampere+ GPUs)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap way to know, fp32 is the safe choice
        return False
    return bool(re.search(r"\b(amx_bf16|avx512_bf16)\b", flags))


@dataclass
class AppTrainingArguments(TrainingArguments):
    # Defaults chosen for the real bert-base-chinese on a laptop CPU; everything else is the Trainer's.
    output_dir: str = field(default="outputs/bert-base-chinese-names", metadata={"help": "Where the model is saved."})
    do_train: bool = field(default=True, metadata={"help": "False: only suggest names from --model_name_or_path."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "3 passes over 300 sentences: the loss has flattened."})
    learning_rate: float = field(default=5e-5, metadata={"help": "BERT's fine-tuning rate; higher forgets pre-training."})
    per_device_train_batch_size: int = field(default=16, metadata={"help": "16 short sentences: fast on CPU, stable."})
    per_device_eval_batch_size: int = field(default=32, metadata={"help": "No gradients, so larger than training."})
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate once per epoch: the loss curve."})
    logging_strategy: str = field(default="epoch", metadata={"help": "One train-loss line per epoch."})
    save_strategy: str = field(default="no", metadata={"help": "'epoch' writes resumable checkpoints."})
    prediction_loss_only: bool = field(default=True, metadata={"help": "Evaluation needs only the loss."})
    include_num_input_tokens_seen: str = field(default="non_padding", metadata={"help": "For tokens/s in metrics.json."})
    precision: str = field(
        default="auto",
        metadata={"help": "auto (bf16 where the hardware does it natively, else fp16 on GPU, else fp32), fp32, bf16, fp16."},
    )

    def __post_init__(self):
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise UserError(f"--precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        self.check_ranges()
        if _no_accelerator():
            # Without it torchrun on a CPU machine starts N separate runs of world_size 1 (no gloo group).
            self.use_cpu = True
        if not (self.bf16 or self.fp16):
            if self.precision == "bf16" or (self.precision == "auto" and _native_bf16()):
                self.bf16 = True
            elif self.precision == "fp16" or (self.precision == "auto" and torch.cuda.is_available()):
                self.fp16 = True
        if torch.cuda.is_available():
            self.tf32 = self.tf32 if self.tf32 is not None else torch.cuda.get_device_capability()[0] >= 8
        # Our collator picks the columns it needs (it uses name_mask, which the model does not take).
        self.remove_unused_columns = False
        # app.py publishes the folder its atomic save wrote, after the save (publish_model); the Trainer's own
        # push would start a hub repo at start-up and never push the final model, which app.py saves itself.
        self.publish, self.push_to_hub = self.push_to_hub, False
        super().__post_init__()

    def check_ranges(self):
        """The numbers that torch or the Trainer would otherwise reject deep inside, with a traceback."""
        checks = [
            (self.learning_rate > 0 and math.isfinite(self.learning_rate), "--learning_rate",
             "a positive number such as 5e-5", self.learning_rate),
            (self.per_device_train_batch_size >= 1, "--per_device_train_batch_size", "1 or more",
             self.per_device_train_batch_size),
            (self.per_device_eval_batch_size >= 1, "--per_device_eval_batch_size", "1 or more",
             self.per_device_eval_batch_size),
            (self.gradient_accumulation_steps >= 1, "--gradient_accumulation_steps", "1 or more",
             self.gradient_accumulation_steps),
            (self.max_steps > 0 or (self.num_train_epochs > 0 and math.isfinite(self.num_train_epochs)),
             "--num_train_epochs", "more than 0 (or set --max_steps)", self.num_train_epochs),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay), "--weight_decay", "0 or more",
             self.weight_decay),
            (self.warmup_steps >= 0, "--warmup_steps", "0 or more (below 1: a share of the steps)", self.warmup_steps),
            (self.max_grad_norm is None or self.max_grad_norm >= 0, "--max_grad_norm", "0 (no clipping) or more",
             self.max_grad_norm),
            (0 <= self.seed < 2**32, "--seed", "a whole number from 0 to 4294967295", self.seed),
        ]
        for ok, flag, wanted, value in checks:
            if not ok:
                raise UserError(f"{flag} must be {wanted}, got {value}")


class OneLineParser(HfArgumentParser):
    def error(self, message):
        # argparse prints its whole usage (hundreds of Trainer flags) before the one line that matters.
        raise UserError(f"{message} (python app.py --help lists the options)")


def parse_args(argv: list[str] | None):
    parser = OneLineParser((ModelArguments, DataArguments, SuggestArguments, AppTrainingArguments))
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
        return parser.parse_args_into_dataclasses(args=argv)
    except json.JSONDecodeError as e:
        raise UserError(f"config file '{argv[0]}' is not valid JSON (line {e.lineno}: {e.msg}): fix that line") from None
    except (ValueError, TypeError) as e:  # TrainingArguments' own checks; a config file's unknown or odd keys
        raise UserError(str(e).strip().splitlines()[0]) from None
    except OSError as e:
        raise UserError(f"config file '{argv[0]}': {e.strerror}: pass a JSON file of options") from None


# ----------------------------------------------------------------------------------------------
# Output: results on stdout in fixed shapes, only from the main process.
# ----------------------------------------------------------------------------------------------
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


def format_suggestions(title: str, suggestions: list[tuple[str, float]], surname: str = "") -> list[str]:
    """Lines of a suggestion table: rank, name (surname + given name), pinyin, lean, probability.

    The lean is the statistics' ('男 94%': 94% of people with these name characters are boys).
    """
    columns = [(surname + given, names.name_pinyin(surname, given), names.lean(given), format_probability(logp))
               for given, logp in suggestions]
    header = ("name", "pinyin", "lean", "probability")
    widths = [max(display_width(row[i]) for row in [header, *columns]) for i in range(3)]

    def line(rank, cells):
        return f"{rank:>4}  " + "  ".join(ljust(c, w) for c, w in zip(cells, widths)) + f"  {cells[3]}"

    return [title, line("rank", header)] + [line(rank, cells) for rank, cells in enumerate(columns, start=1)]


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


# ----------------------------------------------------------------------------------------------
# Model and corpus
# ----------------------------------------------------------------------------------------------
def _masked_positions_forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
    """BertForMaskedLM.forward, but with labels the 21128-way output layer runs only at masked positions.

    The stock forward computes logits for every token and the loss then discards ~85% of them; the
    output layer is the largest matmul in the model. Without labels (predictions) it is the stock forward.
    """
    num_items_in_batch = kwargs.pop("num_items_in_batch", None)
    if labels is None:
        return type(self).forward(self, input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids, **kwargs)
    hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
    selected = labels != -100
    logits = self.cls(hidden[selected])  # (n_masked, vocab)
    if num_items_in_batch is not None:  # gradient accumulation: the Trainer normalises over all micro-batches
        loss = F.cross_entropy(logits.float(), labels[selected], reduction="sum") / num_items_in_batch
    else:
        loss = F.cross_entropy(logits.float(), labels[selected])
    return MaskedLMOutput(loss=loss, logits=logits)


def load_model_and_tokenizer(name: str, for_training: bool):
    """(model, tokenizer) from the hub cache or a local folder, or a UserError saying how to get them."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForMaskedLM.from_pretrained(name)
    except Exception as e:  # OSError, ValueError, safetensors' and tokenizers' own errors: all mean "cannot load"
        if os.path.isdir(name) and os.path.isfile(os.path.join(name, "config.json")):
            raise UserError(f"model folder '{name}' cannot be loaded ({type(e).__name__}: "
                            f"{str(e).strip().splitlines()[0][:120] if str(e).strip() else 'no detail'}): it is "
                            "incomplete or damaged; train it again, or pass another folder") from None
        if not for_training and not os.path.isdir(name):
            raise UserError(
                f"model folder '{name}' does not exist: train one first (python app.py --output_dir {name}) "
                "or pass --model_name_or_path a saved model folder"
            ) from None
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        why = "HF_HUB_OFFLINE=1 and it is not in the Hugging Face cache" if offline else "not cached and the hub is unreachable"
        raise UserError(
            f"cannot load model '{name}' ({why}; {type(e).__name__}): pre-download it where there is network "
            f"(hf download {name}) or pass --model_name_or_path a local model folder"
        ) from None
    if MASK not in tokenizer.get_vocab():
        raise UserError(f"model '{name}': its tokenizer has no {MASK} token, so it cannot fill in names")
    if for_training and type(model) is BertForMaskedLM:
        model.forward = _masked_positions_forward.__get__(model)
    return model, tokenizer


# What a corpus file may be saved as. GB18030 is a superset of GBK and GB2312, so it reads all three.
ENCODING_NAMES = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8 with BOM", "gb18030": "GB18030/GBK", "utf_16": "UTF-16",
                  "utf_16_le": "UTF-16", "utf_16_be": "UTF-16", "utf_32": "UTF-32", "utf_32_le": "UTF-32",
                  "utf_32_be": "UTF-32"}
GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


def read_corpus_text(path: str) -> tuple[str, str]:
    """(text, encoding name) of a corpus file saved as UTF-8 (with or without BOM), GB18030/GBK or UTF-16/32.

    UTF-8 and byte-order marks are recognised exactly; anything else is identified by charset-normalizer
    (the detector requests uses), and only the encodings above are accepted: a file in any other
    encoding, or not text at all, is refused with the iconv command that converts it.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"train file '{path}' cannot be read ({e.strerror}): check its permissions") from None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00 starts both
        encoding = "utf_32"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf_16"
    elif raw.startswith(codecs.BOM_UTF8):
        encoding = "utf_8_sig"
    else:
        encoding = "utf_8" if _is_utf8_text(raw) else _bomless_utf16(raw) or _detect_encoding(raw)
    if encoding is None or encoding not in ENCODING_NAMES or not _decodes(raw, encoding):
        looks = f"it looks like {encoding}" if encoding else "it looks like binary data"
        raise UserError(f"train file '{path}' is not text in UTF-8, GBK/GB18030 or UTF-16 ({looks}): save it as "
                        f"UTF-8 (iconv -f {(encoding or 'GBK').upper()} -t UTF-8 '{path}' > corpus.utf8.json) and pass that")
    text = raw.decode(encoding)
    if "\x00" in text:
        raise UserError(f"train file '{path}' holds NUL characters, so it is binary, not JSON text: "
                        "pass a JSON Lines file of {\"text\": ...} rows")
    return text, ENCODING_NAMES[encoding]


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8_text(raw: bytes) -> bool:
    """Valid UTF-8, and not UTF-16 of ASCII (NUL bytes). A GBK file that is also valid UTF-8 is read as UTF-8:
    no detector can tell them apart, and it takes a file of a very few characters (GBK 一 is D2 BB, which
    is UTF-8 for Cyrillic һ); a real GBK corpus is never valid UTF-8."""
    return b"\x00" not in raw and _decodes(raw, "utf_8")


def _bomless_utf16(raw: bytes) -> str | None:
    """UTF-16 without a byte-order mark, which charset-normalizer misses for short files of Chinese (found by
    the property tests). JSON's ASCII braces, quotes and keys give a zero high byte, so zeros crowd the odd
    byte positions (little-endian) or the even ones (big-endian)."""
    pairs = len(raw) // 2
    if len(raw) % 2 or pairs < 4:
        return None
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    for encoding, zeros, others in (("utf_16_le", odd, even), ("utf_16_be", even, odd)):
        if zeros >= pairs / 4 and zeros > 2 * others and _decodes(raw, encoding):
            return encoding
    return None


def _detect_encoding(raw: bytes) -> str | None:
    """The encoding of a file that is not UTF-8, among those we read; else charset-normalizer's best guess of
    any encoding (to name it in the error); None if it sees no text at all."""
    import charset_normalizer

    ours = charset_normalizer.from_bytes(raw, cp_isolation=["gb18030", *(e for e in ENCODING_NAMES if "16" in e or "32" in e)])
    if ours.best() is not None:
        name = codecs.lookup(ours.best().encoding).name.replace("-", "_")
        return "gb18030" if name in GB_FAMILY else name
    # Too short for the detector to be sure (a few GBK characters, found by the property tests), but valid
    # GB18030 with Chinese in it: for a corpus of Chinese names, that is what it is.
    if _decodes(raw, "gb18030") and HAN_CHAR.search(raw.decode("gb18030")):
        return "gb18030"
    guess = charset_normalizer.from_bytes(raw).best()
    return codecs.lookup(guess.encoding).name.replace("-", "_") if guess else None


def describe_corpus_problem(text: str) -> str | None:
    """The first problem of a corpus, as 'line N: ...' (JSON Lines) or 'row N: ...' (a JSON array), or None.

    Checked before datasets sees the file: its JSON reader names no line, and it crashes the whole process
    (SIGSEGV in pyarrow) on some shapes that are no rows, such as a file holding only `null` or an array
    that starts with null (both found by the property tests).
    """
    if text.lstrip().startswith("["):
        try:
            rows = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as e:
            return f"line {e.lineno}: not valid JSON ({e.msg}); fix that line"
        except RecursionError:
            return "nested too deeply to be rows of {\"text\": ...}"
        where = "row"
    else:
        rows, where = [], "line"
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    return f"line {n}: not valid JSON ({e.msg}); fix that line"
                except RecursionError:
                    return f"line {n}: nested too deeply to be a {{\"text\": ...}} row"
    if not rows:
        return 'it holds no rows; it needs one {"text": ...} object per line'
    for n, row in rows:
        value = row.get("text") if isinstance(row, dict) else None
        if not isinstance(value, str) or not value.strip():
            shown = "missing" if not isinstance(row, dict) or "text" not in row else _short(value)
            return f'{where} {n}: "text" is {shown}; every row needs a non-empty "text" string'
        if "label" in row and row["label"] is not None and not isinstance(row["label"], str):
            return f'{where} {n}: "label" is {_short(row["label"])}; it must be the full name as a string ("张涛")'
    return None


def _short(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def load_corpus(path: str) -> tuple[datasets.Dataset, str]:
    """(the corpus as a datasets.Dataset with a 'text' column, and 'label' if the file has one; its encoding)."""
    if os.path.isdir(path):
        raise UserError(f"train file '{path}' is a folder: pass --train_file a JSON Lines file of {{\"text\": ...}} rows")
    if not os.path.isfile(path):
        raise UserError(f"train file '{path}' not found: pass --train_file a JSON Lines file of {{\"text\": ...}} rows")
    if os.path.getsize(path) == 0:
        raise UserError(f"train file '{path}' is empty: it needs {{\"text\": ...}} rows")
    text, encoding = read_corpus_text(path)
    problem = describe_corpus_problem(text)
    if problem:
        raise UserError(f"train file '{path}': {problem}")
    ds = _load_json(path, text, plain_utf8=encoding == "UTF-8")
    if ds is not None and "label" in ds.column_names and getattr(ds.features["label"], "dtype", None) == "null":
        ds = ds.remove_columns("label")  # every label is null: an unlabelled corpus
    if ds is None or "text" not in ds.column_names or not _is_string_column(ds, "text") or (
            "label" in ds.column_names and not _is_string_column(ds, "label")) or _has_blank(ds, "text"):
        raise UserError(f"train file '{path}': datasets cannot read it as rows of {{\"text\": ...}}: "
                        "write one JSON object per line")
    return ds, encoding


def _load_json(path: str, text: str, plain_utf8: bool) -> datasets.Dataset | None:
    """datasets' JSON loader on the file, or on a UTF-8 copy of it (datasets reads UTF-8 only); None if it
    refuses. Its own error lines ('Failed to load JSON ...') are not shown: the rows were checked already."""
    quiet = logging.getLogger("datasets")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        if plain_utf8:
            return datasets.load_dataset("json", data_files=path, split="train")
        with tempfile.TemporaryDirectory(prefix="corpus-utf8-") as tmp:
            copy = Path(tmp) / Path(path).name
            copy.write_text(text, encoding="utf-8")
            # In memory and with a cache inside the temporary folder: nothing refers to it once it is gone.
            return datasets.load_dataset("json", data_files=str(copy), split="train", keep_in_memory=True,
                                         cache_dir=str(Path(tmp) / "cache"))
    except Exception:  # anything datasets or pyarrow refuses; the diagnosis is ours
        return None
    finally:
        quiet.setLevel(level)


def _is_string_column(ds, column: str) -> bool:
    return getattr(ds.features[column], "dtype", None) == "string"  # datasets 5 reads mixed types as Json


def _has_blank(ds, column: str) -> bool:
    """Any null or whitespace-only value, checked on the Arrow column (no copy into Python)."""
    values = ds.data.column(column)
    return bool(values.null_count) or bool(pc.any(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)).as_py())


def split_name(full_name: str) -> tuple[str, str]:
    """'张涛' -> ('张', '涛'); '欧阳娜' -> ('欧阳', '娜'); '张子涵' -> ('张', '子涵')."""
    cut = 2 if full_name[:2] in DOUBLE_SURNAMES or len(full_name) >= 4 else 1
    return full_name[:cut], full_name[cut:]


def given_name_span(text: str, label: str | None) -> tuple[int, int] | None:
    """Character span of the given name of `label` inside `text`, or None if the text does not contain it."""
    if not label or len(label) < 2:
        return None
    start = text.rfind(label)
    if start < 0:
        return None
    surname, _ = split_name(label)
    return start + len(surname), start + len(label)


def tokenize_corpus(ds, tokenizer, max_seq_length: int):
    """Adds input_ids, attention_mask, token_type_ids, special_tokens_mask, word_ids and name_mask.

    name_mask marks the tokens of the given name (1) found through 'label'; all 0 without labels.
    """
    has_label = "label" in ds.column_names

    def tokenize(batch):
        enc = tokenizer(batch["text"], truncation=True, max_length=max_seq_length,
                        return_special_tokens_mask=True, return_offsets_mapping=True)
        labels = batch["label"] if has_label else [None] * len(batch["text"])
        enc["word_ids"] = [enc.word_ids(i) for i in range(len(batch["text"]))]
        enc["name_mask"], enc["truncated"] = [], []
        for text, label, offsets, special in zip(batch["text"], labels, enc["offset_mapping"], enc["special_tokens_mask"]):
            span = given_name_span(text, label)
            enc["name_mask"].append([int(span is not None and not sp and s >= span[0] and e <= span[1])
                                     for (s, e), sp in zip(offsets, special)])
            last_end = max((e for (s, e), sp in zip(offsets, special) if not sp), default=0)
            enc["truncated"].append(len(offsets) >= max_seq_length and last_end < len(text.rstrip()))
        del enc["offset_mapping"]
        return enc

    tokenized = ds.map(tokenize, batched=True, batch_size=1000)
    n_truncated = pc.sum(tokenized.data.column("truncated")).as_py() or 0
    if n_truncated:
        logger.warning("%d of %d texts are longer than --max_seq_length %d tokens and were truncated",
                       n_truncated, len(tokenized), max_seq_length)
    return tokenized.remove_columns("truncated")


def split_corpus(tokenized, test_size: float, seed: int):
    n = len(tokenized)
    n_test = int(test_size) if test_size >= 1 else math.ceil(n * test_size)
    if n < 2 or n_test < 1 or n - n_test < 1:
        raise UserError(f"the corpus has {n} rows, too few to split into train and test with --test_size {test_size}: "
                        "add sentences (a few dozen at least) or change --test_size")
    return tokenized.train_test_split(test_size=n_test, seed=seed)


# ----------------------------------------------------------------------------------------------
# Masking
# ----------------------------------------------------------------------------------------------
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask")


@dataclass
class NameMaskingCollator(DataCollatorForLanguageModeling):
    """DataCollatorForLanguageModeling plus two guarantees:

    - every example has at least one masked token (a short sentence can otherwise draw none, and a
      batch of such gives a NaN loss);
    - with probability name_mask_probability an example also gets its whole given name masked.
    Examples that already carry 'labels' (the test split, masked once) are only padded.
    """

    name_mask_probability: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        self._pad_only = DataCollatorForTokenClassification(self.tokenizer)

    def torch_call(self, examples):
        if "labels" in examples[0]:
            return self._pad_only([{k: e[k] for k in (*MODEL_INPUTS, "labels") if k in e} for e in examples])
        batch = super().torch_call([{k: e[k] for k in MODEL_INPUTS if k in e} for e in examples])
        ids, labels = batch["input_ids"], batch["labels"]
        original = torch.where(labels == -100, ids, labels)
        force = torch.zeros_like(ids, dtype=torch.bool)
        if self.name_mask_probability > 0 and "name_mask" in examples[0]:
            names = torch.zeros_like(force)
            for i, e in enumerate(examples):
                names[i, : len(e["name_mask"])] = torch.tensor(e["name_mask"], dtype=torch.bool)
            chosen = torch.rand(len(examples), generator=self.generator) < self.name_mask_probability
            force |= names & chosen[:, None]
        unmasked_rows = (labels == -100).all(dim=1)
        if unmasked_rows.any():
            maskable = batch["attention_mask"].bool() & ~torch.isin(ids, torch.tensor(self.tokenizer.all_special_ids))
            scores = torch.rand(ids.shape, generator=self.generator).masked_fill(~maskable, -1)
            pick = F.one_hot(scores.argmax(dim=1), ids.shape[1]).bool() & maskable
            force |= pick & unmasked_rows[:, None]
        labels[force] = original[force]
        ids[force] = self.tokenizer.mask_token_id
        return batch


def mask_test_split_once(test, tokenizer, mlm_probability: float, seed: int):
    """The test split with masks drawn once, so before/after evaluations score the very same tokens."""
    collator = NameMaskingCollator(tokenizer, mlm_probability=mlm_probability, seed=seed)

    def mask(batch):
        out = collator([dict(zip(batch, row)) for row in zip(*batch.values())])
        lengths = out["attention_mask"].sum(dim=1).tolist()
        return {k: [v[i, :n].tolist() for i, n in enumerate(lengths)] for k, v in out.items()}

    return test.map(mask, batched=True, batch_size=1000, remove_columns=test.column_names)


def show_examples(report: Report, tokenizer, processed, masked_batch):
    def render(ids):
        return "".join(t for t in tokenizer.convert_ids_to_tokens(ids) if t != tokenizer.pad_token)

    report.say(str(processed), record=False)
    report.say(f"example 0 decoded: {render(processed[0]['input_ids'])}", record=False)
    for i, (ids, labels) in enumerate(zip(masked_batch["input_ids"].tolist(), masked_batch["labels"].tolist())):
        targets = tokenizer.convert_ids_to_tokens([t for t in labels if t != -100])
        report.say(f"masked example {i}: {render(ids)}  (targets: {' '.join(targets)})", record=False)


# ----------------------------------------------------------------------------------------------
# Suggestions and the name score
# ----------------------------------------------------------------------------------------------
@torch.inference_mode()
def name_score(model, tokenizer, rows, ks=(1, 5, 20), batch_size: int = 64) -> dict:
    """How often the true given-name character is the model's top 1 / in its top 5 / top 20.

    Every given-name token of a held-out sentence (from name_mask) is replaced by [MASK] at once, and
    the true character is ranked against the whole vocabulary. {} when the rows have no labels.
    """
    hits = {k: 0 for k in ks}
    total = 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start: start + batch_size]
        width = max(len(x) for x in chunk["input_ids"])
        ids = torch.full((len(chunk["input_ids"]), width), tokenizer.pad_token_id)
        names = torch.zeros_like(ids, dtype=torch.bool)
        for i, (row_ids, row_names) in enumerate(zip(chunk["input_ids"], chunk["name_mask"])):
            ids[i, : len(row_ids)] = torch.tensor(row_ids)
            names[i, : len(row_names)] = torch.tensor(row_names, dtype=torch.bool)
        if not names.any():
            continue
        truth = ids[names]
        masked = ids.masked_fill(names, tokenizer.mask_token_id)
        logits = model(input_ids=masked.to(model.device), attention_mask=(ids != tokenizer.pad_token_id).long().to(model.device)).logits
        logits = logits[names.to(model.device)].float()
        rank = (logits > logits.gather(1, truth.to(model.device)[:, None])).sum(dim=1)  # 0 = top 1
        for k in ks:
            hits[k] += int((rank < k).sum())
        total += len(truth)
    if total == 0:
        return {}
    return {**{f"name_top{k}": hits[k] / total for k in ks}, "name_chars": total}


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
class EpochLines(TrainerCallback):
    """One line per epoch ('epoch 1/3: train_loss 2.3100  eval_loss 2.4000  perplexity 11.02') instead
    of the Trainer's printed dicts."""

    def __init__(self, report: Report):
        self.report = report
        self.train_loss = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.train_loss = logs["loss"]
        if "eval_loss" in logs and state.global_step > 0:
            train = f"train_loss {self.train_loss:.4f}  " if self.train_loss is not None else ""
            self.report.say(f"epoch {state.epoch:.0f}/{args.num_train_epochs:.0f}: {train}"
                            f"eval_loss {logs['eval_loss']:.4f}  perplexity {perplexity(logs['eval_loss']):.2f}")


class StepTimer(TrainerCallback):
    """Seconds spent in training steps alone (evaluation and saving excluded): for tokens/s."""

    def __init__(self):
        self.seconds = 0.0
        self._start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds += time.perf_counter() - self._start

    def metrics(self, state) -> dict:
        steps = max(1, state.global_step)
        return {"train_seconds": self.seconds, "seconds_per_step": self.seconds / steps,
                "train_tokens": state.num_input_tokens_seen,
                "tokens_per_second": state.num_input_tokens_seen / self.seconds if self.seconds else None}


def step_timer(trainer) -> StepTimer:
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, StepTimer))


class QuietProgress(ProgressCallback):
    """The Trainer's training progress bar, without the dict it prints at every log and without a bar
    for each evaluation (a few batches each)."""

    def on_log(self, *args, **kwargs):
        pass

    def on_prediction_step(self, *args, **kwargs):
        pass


def build_trainer(model, tokenizer, args, data_args, train, test_masked, report: Report):
    collator = NameMaskingCollator(tokenizer, mlm_probability=data_args.mlm_probability,
                                   name_mask_probability=data_args.name_mask_probability,
                                   seed=args.seed + args.process_index)
    trainer = Trainer(model=model, args=args, data_collator=collator, train_dataset=train,
                      eval_dataset=test_masked, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback):
        trainer.add_callback(QuietProgress())
    trainer.add_callback(EpochLines(report))
    trainer.add_callback(StepTimer())
    return trainer


def resolve_checkpoint(args) -> str | None:
    """--resume_from_checkpoint: a checkpoint folder, or True/last for the newest one in --output_dir."""
    from transformers.trainer_utils import get_last_checkpoint

    wanted = args.resume_from_checkpoint
    if wanted is None or str(wanted).lower() in ("false", "none", ""):
        return None
    if str(wanted).lower() in ("true", "last"):
        found = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        if found is None:
            raise UserError(f"--resume_from_checkpoint {wanted}: no checkpoint-* folder in {args.output_dir}; "
                            "start without it, or save checkpoints with --save_strategy epoch")
        return found
    if not os.path.isdir(wanted):
        raise UserError(f"--resume_from_checkpoint '{wanted}' is not a folder: pass a checkpoint-N folder or True")
    return wanted


def evaluate(trainer, model, tokenizer, test, after_training: bool = False) -> dict:
    """Eval loss on the once-masked test split (all processes) and the name score (main process).

    After training, the evaluation at the end of the last epoch is reused: it scored this very model
    on the very same masked tokens.
    """
    loss = _last_epoch_eval_loss(trainer) if after_training else None
    metrics = {"eval_loss": loss if loss is not None else trainer.evaluate()["eval_loss"]}
    if trainer.is_world_process_zero():
        model.eval()
        metrics.update(name_score(model, tokenizer, test))
    return metrics


def _last_epoch_eval_loss(trainer) -> float | None:
    state = trainer.state
    for entry in reversed(state.log_history):
        if "eval_loss" in entry:
            return entry["eval_loss"] if entry.get("step") == state.global_step else None
    return None


# ----------------------------------------------------------------------------------------------
# Saving: atomic, so a failed run never destroys the model a previous run saved
# ----------------------------------------------------------------------------------------------
# What a folder this script saved (or checkpointed into) holds; a folder with anything else is not replaced.
MODEL_FOLDER_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "metrics.json", "checkpoint-*")


def check_output_dir(output_dir: str):
    """Fail before training, not after, if the model could not be saved there, and never replace a folder
    that holds something else: the save swaps the whole folder (--output_dir ~/Documents would be lost)."""
    path = Path(output_dir)
    if not output_dir.strip() or path.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise UserError(f"--output_dir '{output_dir}' is the current folder or one above it: pass a folder of its "
                        "own, such as outputs/bert-base-chinese-names")
    if path.exists() and not path.is_dir():
        raise UserError(f"--output_dir '{output_dir}' is a file: pass a folder path")
    if path.is_dir() and any(path.iterdir()) and not any(any(path.glob(p)) for p in MODEL_FOLDER_FILES):
        raise UserError(f"--output_dir '{output_dir}' holds files that are no saved model, and saving replaces the "
                        "whole folder: pass a new or empty folder, or one this script saved a model to")
    _probe_folder(path.parent, f"--output_dir '{output_dir}'", "a folder you can write to")


def check_result_file(result_file: str, output_dir: str | None):
    """Fail before any work, not after training, if the report could not be written there."""
    path = Path(result_file)
    if path.is_dir() or (output_dir and path.resolve() == Path(output_dir).resolve()):
        raise UserError(f"--result_file '{result_file}' is a folder: pass a file path such as result.txt")
    _probe_folder(path.parent, f"--result_file '{result_file}'", "a file in a folder you can write to")


def _probe_folder(folder: Path, what: str, fix: str):
    """Create folder if needed and check that files can be made in it (a probe that is removed at once)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=folder))
    except OSError as e:
        raise UserError(f"{what} is not writable ({e.strerror}): pass {fix}") from None


@contextlib.contextmanager
def exclusive_output_dir(output_dir: str):
    """Only one run at a time writes a given --output_dir: a second one is refused in one line.

    The lock is a file beside the folder (.NAME.lock, flock'ed through filelock); it is removed while still
    held, so nothing is left behind, and a lock file that a killed run left is taken over and removed. While
    the lock is held, what a killed run left is cleaned up first (recover_output_dir).
    """
    import filelock

    path = Path(output_dir)
    lock_path = path.with_name(f".{path.name}.lock")
    lock = filelock.FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UserError(f"another run is writing to --output_dir '{output_dir}' right now: wait for it to end "
                        "or pass another --output_dir") from None
    try:
        recover_output_dir(path)
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # before the release: a waiting run then sees a new lock file
        lock.release()


def recover_output_dir(path: Path):
    """Undo what a run killed mid-save left beside path (only ever called under the lock):
    a model moved aside (.NAME.old-PID) with no model in place is put back; staging folders are removed."""
    aside = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside and not path.exists():
        aside.pop().rename(path)
        logger.warning("restored %s, which a run killed while saving had moved aside", path)
    for leftover in [*aside, *path.parent.glob(f".{path.name}.new-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE): there is no moment without a model.
    False where the system or filesystem cannot, and the caller falls back to two renames."""
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

    The swap is one atomic exchange where Linux offers it. Elsewhere the old folder is moved aside first and
    deleted only once the new one is in place; if anything fails it is put back, and if the process is
    killed between the two renames, the next run puts it back (recover_output_dir). Checkpoints the
    Trainer wrote into output_dir move with the new model (and back, if the swap fails).
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
        except BaseException:  # also Ctrl-C or SIGTERM between the two renames: put the old model back
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


def plot_losses(log_history: list[dict], before: float, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["epoch"], e["loss"]) for e in log_history if "loss" in e and "epoch" in e]
    evals = [(0.0, before)] + [(e["epoch"], e["eval_loss"]) for e in log_history if "eval_loss" in e and e.get("step")]
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train), marker="o", label="train loss")
    ax.plot(*zip(*evals), marker="s", label="eval loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MLM loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def model_card(model_args, data_args, suggest_args, args, metrics: dict, n_rows: int) -> str:
    scores = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, float))
    return f"""---
language: zh
base_model: {model_args.model_name_or_path}
pipeline_tag: fill-mask
---
# 取名模型 / Chinese given-name suggester

Fine-tuned from `{model_args.model_name_or_path}` with masked-language modelling on `{data_args.train_file}`
({n_rows} sentences about naming a child) by `app.py`.

```python
from transformers import pipeline
pipeline("fill-mask", model="{args.output_dir}")("小孩的名字叫张[MASK]")
```

## Settings
| setting | value |
|---|---|
| epochs | {args.num_train_epochs:g} |
| learning rate | {args.learning_rate:g} |
| batch size per device | {args.per_device_train_batch_size} |
| seed | {args.seed} |
| mlm_probability | {data_args.mlm_probability} |
| name_mask_probability | {data_args.name_mask_probability} |
| precision | {"bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"} |

## Scores on the held-out split
| metric | value |
|---|---|
{scores}

name_topK: share of held-out given-name characters that the model ranks in its top K when the whole
given name is masked. Loss and perplexity are measured on the same masked test tokens before and after.
gender_fit: share of the top-{suggest_args.top_k} names for `{suggest_args.resolved_prompt()}` that lean to the asked
gender ({suggest_args.gender}) in real naming statistics (ngender's charfreq.csv); name_realism: share of them whose
characters people really use in given names. Both are absent where they do not apply (gender_fit for --gender any).

![loss](loss.png)
"""


def save_outputs(model, tokenizer, trainer, model_args, data_args, suggest_args, args, metrics: dict, n_rows: int):
    def write(folder: Path):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        plot_losses(trainer.state.log_history, metrics["eval_loss_before"], folder / "loss.png")
        (folder / "README.md").write_text(model_card(model_args, data_args, suggest_args, args, metrics, n_rows), encoding="utf-8")

    try:
        save_atomically(args.output_dir, write)
    except OSError as e:  # disk full, folder removed meanwhile, ...: the previous model is back in place
        raise UserError(f"could not save the model to '{args.output_dir}' ({e.strerror or e}): the previous model "
                        "there is untouched; free some space or pass another --output_dir, and run again") from None


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
        raise UserError(f"could not write the report to '{path}' ({e.strerror or e}): the model is saved; "
                        "pass another --result_file next time") from None


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------
SUGGESTIONS_ZH = {"pretrained": "训练前的推荐", "fine-tuned, reloaded from output_dir": "训练后的推荐（从输出目录重新加载）",
                  "saved model": "保存的模型的推荐"}


def excluded_chars(suggest_args) -> str:
    """A given name never repeats the surname (张玲张); with an explicit --prompt the surname is unknown."""
    return suggest_args.surname if suggest_args.prompt is None else ""


def suggest(model, tokenizer, suggest_args) -> list[tuple[str, float]]:
    """The top-k (given name, log-probability) for the options' prompt, gender and variety rule."""
    model.eval()
    return names.suggest_names(model, tokenizer, suggest_args.resolved_prompt(), suggest_args.top_k,
                               names_only=not suggest_args.raw_predictions, gender=suggest_args.gender,
                               gender_weight=suggest_args.gender_weight, max_per_character=suggest_args.max_per_character,
                               exclude=excluded_chars(suggest_args))


def suggestion_quality(found: list[tuple[str, float]], suggest_args) -> dict:
    return names.quality([given for given, _ in found], suggest_args.gender)


def report_suggestions(report, model, tokenizer, suggest_args, when: str) -> dict:
    """Print the top-k table and its quality line; returns the quality scores (gender_fit, name_realism)."""
    found = suggest(model, tokenizer, suggest_args)
    raw = suggest_args.raw_predictions
    # A name is shown whole (张涛) when the prompt is ours, i.e. the surname stands right before the masks.
    surname = suggest_args.surname if suggest_args.prompt is None and not raw else ""
    kind = "raw tokens" if raw else "names"
    report.say()
    title = f"{SUGGESTIONS_ZH[when]} top {suggest_args.top_k} {kind} for {suggest_args.resolved_prompt()} ({when})"
    for line in format_suggestions(title, found, surname):
        report.say(line)
    scores = suggestion_quality(found, suggest_args)
    report.say(format_quality(scores))
    return scores


def report_configuration(report, model_args, data_args, suggest_args, args):
    report.say("== 配置 configuration")
    settings = {
        "model": model_args.model_name_or_path,
        "train_file": data_args.train_file if args.do_train else "-",
        "output_dir": args.output_dir if args.do_train else "-",
        "epochs": f"{args.num_train_epochs:g}",
        "learning_rate": f"{args.learning_rate:g}",
        "batch_size": args.per_device_train_batch_size * max(1, args.world_size),
        "seed": args.seed,
        "mlm_probability": data_args.mlm_probability,
        "name_mask_probability": data_args.name_mask_probability,
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "device": f"{args.device} x {args.world_size}",
        "prompt": suggest_args.resolved_prompt(),
        "gender": f"{suggest_args.gender} (weight {suggest_args.gender_weight:g})" if suggest_args.gender != "any" else "any",
    }
    width = max(map(len, settings))
    for key, value in settings.items():
        report.say(f"{key.ljust(width)}  {value}")


def suggest_only(report, model_args, suggest_args, args):
    model, tokenizer = load_model_and_tokenizer(model_args.model_name_or_path, for_training=False)
    check_fits_model(model, tokenizer, None, suggest_args)
    report_suggestions(report, model, tokenizer, suggest_args, "saved model")


def check_fits_model(model, tokenizer, data_args, suggest_args):
    """The options that depend on the model, checked as soon as it is loaded, before any training."""
    positions = getattr(model.config, "max_position_embeddings", None)
    if data_args is not None and positions and data_args.max_seq_length > positions:
        raise UserError(f"--max_seq_length {data_args.max_seq_length} is more than the model's {positions} "
                        f"positions: pass at most {positions}")
    if suggest_args.raw_predictions:
        available, what = model.config.vocab_size, "tokens in the model's vocabulary"
    else:
        available = int(names.candidates(tokenizer, model.config.vocab_size, excluded_chars(suggest_args)).sum())
        what = "given-name characters in the model's vocabulary"
    if suggest_args.top_k > available:
        raise UserError(f"--top_k {suggest_args.top_k} is more than the {available} {what}: pass at most {available}")


def prepare_data(report, corpus, encoding: str, tokenizer, data_args, args):
    """(train, test, test masked once): tokenized and split, with the processed data shown."""
    with args.main_process_first(desc="tokenize"):
        processed = tokenize_corpus(corpus, tokenizer, data_args.max_seq_length)
    splits = split_corpus(processed, data_args.test_size, args.seed)
    train, test = splits["train"], splits["test"]
    test_masked = mask_test_split_once(test, tokenizer, data_args.mlm_probability, args.seed)
    report.say(f"== 数据 data: {len(corpus)} rows ({encoding}), {len(train)} train / {len(test)} test")
    training_collator = NameMaskingCollator(tokenizer, mlm_probability=data_args.mlm_probability,
                                            name_mask_probability=data_args.name_mask_probability, seed=args.seed)
    two_masked = training_collator([{k: train[i][k] for k in (*MODEL_INPUTS, "name_mask")} for i in range(min(2, len(train)))])
    show_examples(report, tokenizer, processed, two_masked)
    return train, test, test_masked


def train_model(report, trainer, checkpoint: str | None):
    report.say()
    report.say("== 训练 training")
    if checkpoint:
        report.say(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=checkpoint)


def collect_metrics(before: dict, after: dict, trainer, train, test) -> dict:
    """What metrics.json holds: before/after losses, perplexities and name scores, sizes and speed."""
    return ({f"{k}_before": v for k, v in before.items()} | after
            | {"perplexity_before": perplexity(before["eval_loss"]), "perplexity": perplexity(after["eval_loss"]),
               "train_rows": len(train), "test_rows": len(test), "train_steps": trainer.state.global_step,
               "world_size": trainer.args.world_size, **step_timer(trainer).metrics(trainer.state)})


def train_and_suggest(report, model_args, data_args, suggest_args, args):
    checkpoint = resolve_checkpoint(args)
    corpus, encoding = load_corpus(data_args.train_file)
    set_seed(args.seed)
    model, tokenizer = load_model_and_tokenizer(model_args.model_name_or_path, for_training=True)
    check_fits_model(model, tokenizer, data_args, suggest_args)
    train, test, test_masked = prepare_data(report, corpus, encoding, tokenizer, data_args, args)
    trainer = build_trainer(model, tokenizer, args, data_args, train, test_masked, report)

    before = evaluate(trainer, model, tokenizer, test)
    report.say()
    report.say(format_eval("before training", before))
    if trainer.is_world_process_zero():
        before |= report_suggestions(report, model, tokenizer, suggest_args, "pretrained")
    train_model(report, trainer, checkpoint)
    after = evaluate(trainer, model, tokenizer, test, after_training=True)
    report.say(format_eval("after training", after))
    if not trainer.is_world_process_zero():
        return  # the other processes only train and evaluate

    # The list's quality goes into metrics.json and the card; the table itself is printed from the reloaded model.
    after |= suggestion_quality(suggest(model, tokenizer, suggest_args), suggest_args)
    metrics = collect_metrics(before, after, trainer, train, test)
    save_outputs(model, tokenizer, trainer, model_args, data_args, suggest_args, args, metrics, len(corpus))
    report.say(f"已保存 saved model, tokenizer, metrics.json, loss.png and README.md to {args.output_dir}")
    reloaded, tokenizer = load_model_and_tokenizer(args.output_dir, for_training=False)
    report_suggestions(report, reloaded, tokenizer, suggest_args, "fine-tuned, reloaded from output_dir")


def check_before_work(suggest_args, args):
    """Everything that can be checked without the model or the corpus: output folder, report file, publishing."""
    if args.do_train:
        check_output_dir(args.output_dir)
    check_result_file(suggest_args.result_file, args.output_dir if args.do_train else None)
    if args.publish:
        check_can_publish(args)


def _hub_token(args) -> str | None:
    import huggingface_hub

    return args.hub_token or huggingface_hub.get_token()


def check_can_publish(args):
    """--push_to_hub: refused at the start, not after training, where it cannot work."""
    import huggingface_hub

    if not args.do_train:
        raise UserError("--push_to_hub publishes the model that a training run saves; to publish a saved folder "
                        "use: hf upload REPO_ID FOLDER")
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise UserError("--push_to_hub needs the network, but HF_HUB_OFFLINE=1: unset it, or drop --push_to_hub")
    token = _hub_token(args)
    if not token:
        raise UserError("--push_to_hub needs a Hugging Face token: run hf auth login or set HF_TOKEN "
                        "(or pass --hub_token), or drop --push_to_hub")
    try:
        huggingface_hub.whoami(token=token)
    except Exception as e:  # no network, bad token, hub down: all mean it cannot publish now
        raise UserError(f"--push_to_hub: the Hugging Face hub cannot be reached with this token ({type(e).__name__}): "
                        "check the network and the token, or drop --push_to_hub") from None


def publish_model(args) -> str:
    """Upload the folder the atomic save wrote (model, tokenizer, card, loss.png, metrics.json); returns its URL."""
    import huggingface_hub

    repo_id = args.hub_model_id or Path(args.output_dir).resolve().name
    token = _hub_token(args)
    try:
        # The hub returns the full id (a bare name lands in the token owner's namespace).
        repo_id = huggingface_hub.create_repo(repo_id, token=token, private=args.hub_private_repo, exist_ok=True).repo_id
        huggingface_hub.upload_folder(repo_id=repo_id, folder_path=args.output_dir, token=token,
                                      ignore_patterns=["checkpoint-*"],
                                      commit_message="Upload the name suggester fine-tuned by app.py")
    except Exception as e:
        raise UserError(f"the model is saved in '{args.output_dir}', but publishing it failed ({type(e).__name__}): "
                        f"upload it later with: hf upload {repo_id} {args.output_dir}") from None
    return f"https://huggingface.co/{repo_id}"


def close_progress_bars():
    """A run stopped mid-training leaves the Trainer's bar open, and tqdm would redraw it at exit, after the
    line that says what happened: close it first."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def _on_sigterm(signum, frame):
    raise Terminated()


def run(argv: list[str] | None = None):
    keep_freed_memory()
    # The ~400k objects that torch, transformers and datasets create at import live until exit: exempt
    # them from the collector, which otherwise walks them all in each full collection and once more
    # at exit (~1.3 s a run, measured).
    gc.freeze()
    model_args, data_args, suggest_args, args = parse_args(argv)
    is_main = args.process_index == 0
    setup_logging(is_main)
    check_before_work(suggest_args, args)
    report = Report(enabled=is_main)
    report_configuration(report, model_args, data_args, suggest_args, args)
    writes_model = args.do_train and is_main
    with exclusive_output_dir(args.output_dir) if writes_model else contextlib.nullcontext():
        if args.do_train:
            train_and_suggest(report, model_args, data_args, suggest_args, args)
        else:
            suggest_only(report, model_args, suggest_args, args)
        if is_main:
            write_result_file(suggest_args.result_file, report.lines)
            print(f"report written to {suggest_args.result_file}")
        if writes_model and args.publish:
            print(f"已发布 published {args.output_dir} to {publish_model(args)}")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Each process tears its gloo/NCCL group down itself: left to interpreter exit, a process sometimes
        # aborts ('terminate called without an active exception') after a run that succeeded.
        torch.distributed.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        run(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_progress_bars()
        print("interrupted: the previous model and report are left as they were", file=sys.stderr)
        return 130
    except Terminated:
        close_progress_bars()
        print("terminated (SIGTERM): the previous model and report are left as they were", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
