"""Stand-in models, built offline: randomly initialised BERTs with a vocab.txt of our choosing.

bert-base-chinese cannot be downloaded here, so the benchmarks use a model of its exact shape
(build_base_model: BertConfig(vocab_size=21128), bert-base-chinese's vocabulary layout) and the
tests use tiny ones (build_model with a few layers and the corpus's characters). The cost of a step
depends on the shape, not on the values; nothing these models suggest means anything.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = (
    ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
)


BASE_VOCAB_SIZE = 21128


def corpus_chars(corpus: Path) -> list[str]:
    return sorted(
        {
            c
            for line in corpus.read_text(encoding="utf-8").splitlines()
            if line.strip()
            for c in json.loads(line)["text"]
        }
    )


def build_model(folder: Path, tokens: list[str], seed: int = 0, **config) -> Path:
    """A random-weight BertForMaskedLM with this vocabulary (BertConfig's defaults are bert-base's
    shape)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Writing model shards" bar for each model built
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast.from_pretrained(folder)  # transformers 5 ignores vocab_file=
    torch.manual_seed(seed)
    BertForMaskedLM(BertConfig(vocab_size=len(tokens), **config)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def base_vocab(corpus: Path, vocab: Path | None = None) -> list[str]:
    """bert-base-chinese's 21128 tokens: from its real vocab.txt if given, else a stand-in of the
    same layout (the special tokens, then Han characters, the corpus's own first, so that each is
    one token)."""
    if vocab:
        # One token a line: split on "\n" only (splitlines() also splits inside
        # tokens such as U+0085).
        tokens = vocab.read_text(encoding="utf-8").rstrip("\n").split("\n")
    else:
        # CJK, then Extension A
        han = [chr(c) for c in [*range(0x4E00, 0x9FA6), *range(0x3400, 0x4DB6)]]
        tokens = list(dict.fromkeys(SPECIAL + corpus_chars(corpus) + han))[:BASE_VOCAB_SIZE]
    assert len(tokens) == BASE_VOCAB_SIZE, (
        f"a bert-base-chinese vocab has {BASE_VOCAB_SIZE} tokens, not {len(tokens)}"
    )
    return tokens


def build_base_model(folder: Path, corpus: Path, vocab: Path | None) -> Path:
    """bert-base-chinese's exact shape: 12 layers, hidden 768, a 21128-token vocab."""
    if (folder / "model.safetensors").exists():
        return folder
    return build_model(folder, base_vocab(corpus, vocab))
