"""Evaluation on the held-out split: the eval loss as the mean over every masked test token, and
the name score (does the model rank the held-out given names high?), on all test names and
separately on those training never had (unseen) and had (seen).

It trains nothing (training.py), splits nothing (corpus.py) and prints nothing (report.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch


@torch.inference_mode()
def name_score(model, tokenizer, rows, ks=(1, 5, 20), batch_size: int = 64) -> dict:
    """How often the true given-name character is the model's top 1 / in its top 5 / top 20.

    Every given-name token of a held-out sentence (from name_mask) is replaced by [MASK] at once,
    and the true character is ranked against the whole vocabulary. {} when the rows have no labels.
    """
    hits = {k: 0 for k in ks}
    total = 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(len(x) for x in chunk["input_ids"])
        ids = torch.full((len(chunk["input_ids"]), width), tokenizer.pad_token_id)
        names = torch.zeros_like(ids, dtype=torch.bool)
        for i, (row_ids, row_names) in enumerate(
            zip(chunk["input_ids"], chunk["name_mask"], strict=True)
        ):
            ids[i, : len(row_ids)] = torch.tensor(row_ids)
            names[i, : len(row_names)] = torch.tensor(row_names, dtype=torch.bool)
        if not names.any():
            continue
        truth = ids[names]
        masked = ids.masked_fill(names, tokenizer.mask_token_id)
        logits = model(
            input_ids=masked.to(model.device),
            attention_mask=(ids != tokenizer.pad_token_id).long().to(model.device),
        ).logits
        logits = logits[names.to(model.device)].float()
        rank = (logits > logits.gather(1, truth.to(model.device)[:, None])).sum(dim=1)  # 0 = top 1
        for k in ks:
            hits[k] += int((rank < k).sum())
        total += len(truth)
    if total == 0:
        return {}
    return {**{f"name_top{k}": hits[k] / total for k in ks}, "name_chars": total}


def token_mean_loss(prediction) -> dict:
    """eval_loss from the test rows' (loss sum, masked tokens) pairs: the mean over all masked
    tokens."""
    rows = prediction.predictions
    if isinstance(rows, (list, tuple)):  # --eval_do_concat_batches False: one array per batch
        rows = np.concatenate([np.reshape(batch, (-1, 2)) for batch in rows])
    sums = np.asarray(rows, dtype=np.float64).reshape(-1, 2).sum(axis=0)
    return {"loss": float(sums[0] / sums[1]) if sums[1] else float("nan")}


def evaluate(trainer, model, tokenizer, test, after_training: bool = False) -> dict:
    """Eval loss on the once-masked test split (all processes) and the name score (main process).

    After training, the evaluation at the end of the last epoch is reused where it scored this very
    model on the very same masked tokens; with --load_best_model_at_end the model is the best
    checkpoint's, evaluated again. A NaN or infinite loss (a diverged run) gets no name score: NaN
    logits rank every character first.
    """
    loss = _last_epoch_eval_loss(trainer) if after_training else None
    metrics = {"eval_loss": loss if loss is not None else trainer.evaluate()["eval_loss"]}
    if trainer.is_world_process_zero() and math.isfinite(metrics["eval_loss"]):
        model.eval()
        metrics.update(name_score(model, tokenizer, test))
        metrics.update(seen_and_unseen_scores(model, tokenizer, test))
    return metrics


def seen_and_unseen_scores(model, tokenizer, test) -> dict:
    """The name score on the test names training never had (name_top20_unseen, ...) and on those
    it had (name_top20_seen, ...); each only where the test split holds such names."""
    if "name_seen" not in test.column_names:
        return {}
    scores = {}
    flags = test["name_seen"]
    for suffix, wanted in (("unseen", False), ("seen", True)):
        rows = [
            i
            for i, (g, s) in enumerate(zip(test["given_name"], flags, strict=True))
            if g and s == wanted
        ]
        if rows:
            score = name_score(model, tokenizer, test.select(rows))
            scores |= {f"{k}_{suffix}": v for k, v in score.items()}
    return scores


def _last_epoch_eval_loss(trainer) -> float | None:
    state = trainer.state
    if trainer.args.load_best_model_at_end and state.best_model_checkpoint is not None:
        return None  # the Trainer has loaded the best checkpoint, which may be an earlier one
    for entry in reversed(state.log_history):
        if "eval_loss" in entry:
            return entry["eval_loss"] if entry.get("step") == state.global_step else None
    return None
