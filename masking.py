"""Masking: which tokens the model has to guess.

NameMaskingCollator is transformers' DataCollatorForLanguageModeling (15% of the tokens, BERT's 80/10/10
rule) with two guarantees more: every sentence has at least one masked token, and with a set probability its
whole given name is masked. mask_test_split_once draws the test split's masks once, so that the losses
before and after training score the very same tokens. It does not tokenize (corpus.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DataCollatorForLanguageModeling, DataCollatorForTokenClassification

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
