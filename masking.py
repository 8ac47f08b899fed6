"""Masking: which tokens the model has to guess.

NameMaskingCollator is transformers' DataCollatorForLanguageModeling (15% of the tokens, BERT's
80/10/10 rule) with two guarantees more: every sentence has at least one masked token, and with a
set probability its whole given name is masked. mask_test_split_once draws the test split's masks
once, so that the losses before and after training score the very same tokens. It does not tokenize
(corpus.py).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from transformers import DataCollatorForLanguageModeling, DataCollatorForTokenClassification

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask")
# What the training collator reads from a row: the model's inputs, which tokens are the
# given name, and the row's number in the train split (a batch's masks are drawn from
# its rows, see NameMaskingCollator).
COLLATOR_INPUTS = (*MODEL_INPUTS, "name_mask", "row")
# The masked positions are padded to a multiple of this, so that batches share
# a few shapes (torch.compile).
POSITIONS_MULTIPLE = 8


@dataclass
class NameMaskingCollator(DataCollatorForLanguageModeling):
    """DataCollatorForLanguageModeling plus two guarantees:

    - every example has at least one masked token (a short sentence can otherwise draw none, and a
      batch of such gives a NaN loss);
    - with probability name_mask_probability an example also gets its whole given name masked.
    Examples that already carry 'labels' (the test split, masked once) are only padded.

    When the rows carry their number ('row'), a training batch's masks are drawn from a generator
    seeded with the seed and the batch's row numbers in order, not from one generator that runs
    through the whole training, and with the epoch (set by training.MaskEpoch at each epoch's
    start). So a batch is masked the same way whatever came before it: a run resumed from a
    checkpoint masks its batches as the straight run did, and dataloader workers, each holding a
    copy of the collator, draw different masks (copies of one generator draw the same). And a row's
    masks differ from epoch to epoch under any sampler: with --train_sampling_strategy sequential,
    or a one-row split, the same rows make the same batches every epoch, and the rows alone drew the
    same masks every epoch (297 of 297 rows of train.json).

    With send_positions (the default), each batch also says where its masked tokens are, worked out
    here on the CPU: masked_positions (K,) indexes the flattened (batch x length) tokens, and
    masked_labels (K,) holds their targets; K is padded up to a multiple of POSITIONS_MULTIPLE with
    position 0 and label -100. modeling.py's training forward gathers exactly those rows, so a GPU
    never has to find them with a boolean index (which makes the host wait for the device).
    attention_mask is left out when no row is padded: the model then needs no mask. With sdpa_mask,
    a padded batch's mask is sent as the 4D boolean mask that PyTorch's
    scaled_dot_product_attention takes (batch, 1, 1, length): transformers passes a 4D mask through
    as it is, instead of checking the 2D one on the device (a wait) and building the 4D one there.
    """

    name_mask_probability: float = 0.0
    send_positions: bool = True
    sdpa_mask: bool = False
    epoch: int = 0  # the training epoch the batches are for (training.MaskEpoch)

    def __post_init__(self):
        super().__post_init__()
        self._pad_only = DataCollatorForTokenClassification(
            self.tokenizer, pad_to_multiple_of=self.pad_to_multiple_of
        )
        self._special_ids = torch.tensor(self.tokenizer.all_special_ids)
        self.tokens_seen = 0  # non-padding tokens of the training batches made so far (tokens/s)

    def torch_call(self, examples):
        training = "labels" not in examples[0]
        if training and "row" in examples[0]:
            self.generator = torch.Generator().manual_seed(
                batch_seed(self.seed or 0, [e["row"] for e in examples], self.epoch)
            )
            self._generator_pid = os.getpid()
        batch = self.mask(examples)
        if training:
            self.tokens_seen += int(batch["attention_mask"].sum())
        return self.for_forward(batch) if self.send_positions else batch

    def mask(self, examples):
        """The padded batch with input_ids masked and labels (-100 where nothing is to be
        guessed)."""
        if "labels" in examples[0]:
            return self._pad_only(
                [{k: e[k] for k in (*MODEL_INPUTS, "labels") if k in e} for e in examples]
            )
        batch = super().torch_call([{k: e[k] for k in MODEL_INPUTS if k in e} for e in examples])
        ids, labels = batch["input_ids"], batch["labels"]
        force = self._whole_names(examples, ids.shape)
        unmasked_rows = (labels == -100).all(dim=1)
        if unmasked_rows.any():  # a short sentence that drew no mask: mask one of its real tokens
            maskable = batch["attention_mask"].bool() & ~torch.isin(ids, self._special_ids)
            scores = torch.rand(ids.shape, generator=self.generator).masked_fill(~maskable, -1)
            pick = (
                F.one_hot(scores.argmax(dim=1), ids.shape[1]).bool()
                & maskable
                & unmasked_rows[:, None]
            )
            force = pick if force is None else force | pick
        if force is not None:
            # what stands there before the 80/10/10 rule
            original = torch.where(labels == -100, ids, labels)
            labels[force] = original[force]
            ids[force] = self.tokenizer.mask_token_id
        return batch

    def _whole_names(self, examples, shape) -> torch.Tensor | None:
        """(batch, length) bool: the given-name tokens of the sentences chosen to have theirs
        masked, or None."""
        if self.name_mask_probability <= 0 or "name_mask" not in examples[0]:
            return None
        chosen = torch.rand(len(examples), generator=self.generator) < self.name_mask_probability
        if not chosen.any():
            return None
        width = shape[1]
        names = torch.tensor(
            [e["name_mask"] + [0] * (width - len(e["name_mask"])) for e in examples],
            dtype=torch.bool,
        )
        return names & chosen[:, None]

    def for_forward(self, batch):
        """The batch as the training forward takes it: masked positions and targets added (see
        above)."""
        flat = batch["labels"].flatten()
        where = (flat != -100).nonzero().flatten()  # on the CPU: no device is waited for
        k = max(1, -(-len(where) // POSITIONS_MULTIPLE)) * POSITIONS_MULTIPLE
        padding = k - len(where)
        batch["masked_positions"] = torch.cat([where, where.new_zeros(padding)])
        batch["masked_labels"] = torch.cat([flat[where], flat.new_full((padding,), -100)])
        batch.pop("special_tokens_mask", None)
        mask = batch.pop("attention_mask")
        if not bool(mask.all()):
            batch["attention_mask"] = mask.bool()[:, None, None, :] if self.sdpa_mask else mask
        return batch


def batch_seed(seed: int, rows: list[int], epoch: int = 0) -> int:
    """A 63-bit seed for the batch of these rows (in this order) in this epoch, under this run's
    seed. The first epoch's is the seed of the rows alone, as before epochs counted."""
    key = [seed, *rows] if epoch == 0 else [seed, -1 - epoch, *rows]  # rows are >= 0: no clash
    digest = hashlib.blake2b(np.asarray(key, dtype=np.int64).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def mask_test_split_once(test, tokenizer, mlm_probability: float, seed: int):
    """The test split with masks drawn once, so before/after evaluations score the very same
    tokens."""
    collator = NameMaskingCollator(tokenizer, mlm_probability=mlm_probability, seed=seed)

    def mask(batch):
        out = collator.mask(
            [dict(zip(batch, row, strict=True)) for row in zip(*batch.values(), strict=True)]
        )
        lengths = out["attention_mask"].sum(dim=1).tolist()
        return {k: [v[i, :n].tolist() for i, n in enumerate(lengths)] for k, v in out.items()}

    return test.map(mask, batched=True, batch_size=1000, remove_columns=test.column_names)


def training_columns(train):
    """The train split with only what the collator reads (datasets turns every column of a batch
    into Python objects) and each row's number, from which its batch's masks are drawn
    (NameMaskingCollator)."""
    train = train.add_column("row", list(range(len(train))))
    return train.select_columns([c for c in COLLATOR_INPUTS if c in train.column_names])


def first_examples(train, n: int) -> list[dict]:
    """The first n training rows as the collator takes them."""
    columns = [k for k in COLLATOR_INPUTS if k in train.column_names]
    return [{k: train[i][k] for k in columns} for i in range(min(n, len(train)))]


def masked_examples(train, tokenizer, data_args, seed: int, n: int = 2) -> dict:
    """The first n training rows masked as the training collator masks them, for the report."""
    collator = NameMaskingCollator(
        tokenizer,
        mlm_probability=data_args.mlm_probability,
        name_mask_probability=data_args.name_mask_probability,
        seed=seed,
    )
    return collator(first_examples(train, n))
