"""Training: the transformers.Trainer that app.py runs, with callbacks that make its output one
line per epoch, time the training steps and tell the collator the epoch; its evaluation step hands
per-row loss sums to evaluation.py, which holds the eval loss and the name score.

Also: settle_precision (--precision auto, once the model and the first batch are known) and
collect_metrics (what metrics.json holds). It does not build the data (corpus.py, masking.py) and
saves nothing itself (outputs.py).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import (
    BertForMaskedLM,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
)

import device
import evaluation
import masking
import modeling
import splitting
from errors import UserError
from masking import NameMaskingCollator
from report import Report, perplexity


class EpochLines(TrainerCallback):
    """One line per evaluation ('epoch 1/3: train_loss 2.3100  eval_loss 2.4000  perplexity 11.02')
    instead of the Trainer's printed dicts. Where the run is counted in steps (--max_steps, or
    evaluating every
    --eval_steps) the line says so: 'step 20/60: ...'."""

    def __init__(self, report: Report):
        self.report = report
        self.train_loss = None
        self.training = False  # evaluations before and after training have lines of their own

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True
        # A run resumed in the middle of a logging period: the step it resumed at, else 0.
        if args.logging_strategy == "epoch":
            mid_period = (state.epoch or 0) % 1 > 1e-6
        else:
            mid_period = state.global_step % max(1, state.logging_steps or 1) != 0
        self.resumed_at = state.global_step if mid_period else 0

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_step_end(self, args, state, control, **kwargs):
        # The Trainer evaluates at the last step but logs only every --logging_steps: log there too,
        # so that the last evaluation line has the loss of its own period.
        if args.logging_strategy == "steps" and state.global_step >= state.max_steps:
            control.should_log = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            # with the step it covers up to: an evaluation line shows only its own period's loss
            self.train_loss = (state.global_step, logs["loss"])
        if not self.training:
            return
        where = (
            f"step {state.global_step}/{state.max_steps}"
            if counts_steps(args)
            else f"epoch {state.epoch:.0f}/{args.num_train_epochs:g}"
        )
        if "eval_loss" in logs:
            fresh = self.train_loss is not None and self.train_loss[0] == state.global_step
            train = f"train_loss {self.train_loss[1]:.4f}{self._resumed_note()}  " if fresh else ""
            self.report.say(
                f"{where}: {train}eval_loss {logs['eval_loss']:.4f}  "
                f"perplexity {perplexity(logs['eval_loss']):.2f}"
            )
        elif "loss" in logs and args.eval_strategy == "no":  # no evaluation to wait for
            self.report.say(f"{where}: train_loss {logs['loss']:.4f}{self._resumed_note()}")

    def _resumed_note(self) -> str:
        """The first loss a resumed run logs covers its own steps only (the checkpoint keeps no
        partial sum): said, so that it is not read as the whole period's."""
        if not self.resumed_at:
            return ""
        note, self.resumed_at = f" (steps after the resume at step {self.resumed_at} only)", 0
        return note


class MaskEpoch(TrainerCallback):
    """Tells the training collator which epoch its batches are for, so that it masks a row afresh
    each epoch (masking.NameMaskingCollator). A resumed run's state holds its epoch (1.5: half of
    the second one done), so its batches get the straight run's masks. Dataloader workers start
    afresh each epoch (the Trainer's default) and take the collator as it is then."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = math.floor(state.epoch + 1e-6)


def counts_steps(args) -> bool:
    """The run's length is given in steps (--max_steps) or it is evaluated every so many steps."""
    return args.max_steps > 0 or args.eval_strategy == "steps"


class StepTimer(TrainerCallback):
    """Seconds spent in training steps alone (evaluation and saving excluded): for tokens/s, and
    the first and the median step (a first step that compiles, or warms up, against the steady
    ones).

    count_tokens() says how many training tokens have been seen; by default the Trainer's own count
    (--include_num_input_tokens_seen, which costs a wait for the device each step).
    """

    def __init__(self, count_tokens=None):
        self.steps: list[float] = []
        self._start = None
        self.count_tokens = count_tokens
        self.tokens_before = 0  # a resumed run: the tokens its checkpoint had trained on

    def on_train_begin(self, args, state, control, **kwargs):
        if self.count_tokens:
            self.tokens_before = state.num_input_tokens_seen or 0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(time.perf_counter() - self._start)
        self.on_epoch_end(args, state, control)

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.count_tokens and control.should_save:
            # into the checkpoint's trainer_state.json, so that a resumed run counts from there (a
            # device read at each save only, not at each step)
            state.num_input_tokens_seen = self.tokens_before + self.count_tokens()

    def metrics(self, state) -> dict:
        seconds = sum(self.steps)
        tokens = (
            self.tokens_before + self.count_tokens()
            if self.count_tokens
            else state.num_input_tokens_seen
        )
        return {
            "train_seconds": seconds,
            "seconds_per_step": seconds / max(1, len(self.steps)),
            "first_step_seconds": self.steps[0] if self.steps else None,
            "median_step_seconds": statistics.median(self.steps) if self.steps else None,
            "train_tokens": tokens,
            "tokens_per_second": tokens / seconds if seconds else None,
        }


def step_timer(trainer) -> StepTimer:
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, StepTimer))


class QuietProgress(ProgressCallback):
    """The Trainer's training progress bar, without the dict it prints at every log and without a
    bar for each evaluation (a few batches each)."""

    def on_log(self, *args, **kwargs):
        pass

    def on_prediction_step(self, *args, **kwargs):
        pass


class NamingTrainer(Trainer):
    """transformers.Trainer, with its guard against a NaN or infinite step loss kept without a wait
    per step, one optimizer group where there is no weight decay, and its FLOPs estimate without a
    walk over the parameters.
    --label_smoothing_factor is applied by the masked-positions forward (the stock LabelSmoother
    would get its (masked tokens, vocab) logits against (batch, length) labels). The training
    tokens are counted here, in the main process (dataloader workers count in copies that never
    come back), without a wait for the device.

    The stock loop (logging_nan_inf_filter) asks `torch.isnan(loss) or torch.isinf(loss)` after
    every step, and each bool() makes a GPU host wait for the device. Here the same replacement
    (the average of the losses logged so far in the window) is chosen on the device; app.py turns
    the stock check off.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.label_smoother is not None and modeling.takes_positions(self.model):
            self.model.label_smoothing, self.label_smoother = self.label_smoother.epsilon, None
        if type(self.model) is BertForMaskedLM and not modeling.takes_positions(self.model):
            # The stock forward (nn.DataParallel) takes num_items_in_batch but ignores it: the
            # Trainer must then scale each micro-batch's mean loss for gradient accumulation itself.
            self.model_accepts_loss_kwargs = False
        # eval_loss is the mean over the masked tokens of the whole test split (token_mean_loss)
        self.compute_metrics = evaluation.token_mean_loss
        self._tokens_counted = 0  # batches without padding: their size, known on the host
        # padded batches: the sum of the mask, a tensor on the device, read at the end
        self._tokens_on_device = 0

    def tokens_seen(self) -> int:
        """Non-padding tokens of the training batches this process has trained on."""
        return self._tokens_counted + int(self._tokens_on_device)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Per test row, (sum of the masked tokens' losses, number of masked tokens): (batch, 2).

        The stock step returns each batch's mean loss, and the stock loop averages those means
        weighted by rows, so eval_loss moved with --per_device_eval_batch_size (2.1732 at 1, 2.1001
        at 32 on one masked split). Per-row sums are gathered per sample like predictions
        (gather_for_metrics drops the rows a process repeats to fill its last batch), and
        token_mean_loss divides the total by the token count: one number for any batch size and
        any number of processes.
        """
        inputs = self._prepare_inputs(inputs)
        ids = inputs["input_ids"]
        with torch.no_grad(), self.compute_loss_context_manager():
            logits = model(**inputs).logits
        if "masked_positions" in inputs:  # masked-positions forward: logits (K, vocab)
            targets = inputs["masked_labels"]
            rows = inputs["masked_positions"] // ids.shape[1]
        else:  # stock forward: logits (batch, length, vocab)
            targets = inputs["labels"].flatten()
            logits = logits.flatten(0, 1)
            rows = torch.arange(ids.shape[0], device=ids.device).repeat_interleave(ids.shape[1])
        losses = F.cross_entropy(logits.float(), targets, reduction="none")  # 0 where -100
        counted = torch.stack([losses.double(), (targets != -100).double()], dim=1)
        sums = torch.zeros(ids.shape[0], 2, dtype=torch.float64, device=ids.device)
        sums.index_add_(0, rows, counted)
        return None, sums, sums

    def get_decay_parameter_names(self, model) -> list[str]:
        """With no weight decay (the default) every parameter goes into one optimizer group: the
        stock split into decay and no-decay groups would then only double the optimizer's kernel
        calls each step."""
        if self.args.weight_decay == 0:
            return [name for name, _ in model.named_parameters()]
        return super().get_decay_parameter_names(model)

    def floating_point_ops(self, inputs) -> int:
        """The stock estimate for the logs' total_flos (6 x tokens x non-embedding parameters),
        with the parameters counted once: the stock one walks every parameter of the model at every
        step."""
        if getattr(self, "_counted_parameters", None) is None:
            self._counted_parameters = self.model.num_parameters(exclude_embeddings=True)
        return 6 * inputs[self.model.main_input_name].numel() * self._counted_parameters

    def training_step(self, model, inputs, num_items_in_batch=None):
        mask = inputs.get("attention_mask")
        if mask is None:  # the collator leaves it out where no row is padded
            self._tokens_counted += inputs["input_ids"].numel()
        else:
            # (batch, length) or the 4D (batch, 1, 1, length): the same count; no bool() or item()
            # here, so no wait for the device
            self._tokens_on_device = self._tokens_on_device + mask.sum()
        loss = super().training_step(model, inputs, num_items_in_batch)
        window_average = self._tr_loss / (1 + self.state.global_step - self._globalstep_last_logged)
        return torch.where(torch.isfinite(loss), loss, window_average)


def make_collator(model, tokenizer, args, data_args) -> NameMaskingCollator:
    """The training collator (also the one whose first batch device.choose_for_batch times). It
    sends masked positions only to the masked-positions forward, and never under nn.DataParallel
    (args.n_gpu > 1: the Trainer's choice with several GPUs in one process), which splits each
    tensor along dim 0 (modeling.py).
    """
    return NameMaskingCollator(
        tokenizer,
        mlm_probability=data_args.mlm_probability,
        name_mask_probability=data_args.name_mask_probability,
        seed=args.seed + args.process_index,
        pad_to_multiple_of=device.pad_multiple(args),
        send_positions=modeling.takes_positions(model) and args.n_gpu <= 1,
        sdpa_mask=getattr(model.config, "_attn_implementation", None) == "sdpa",
    )


def build_trainer(model, tokenizer, args, data_args, train, test_masked, report: Report):
    collator = make_collator(model, tokenizer, args, data_args)
    trainer = NamingTrainer(
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=train,
        eval_dataset=test_masked,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback):
        trainer.add_callback(QuietProgress())
    trainer.add_callback(EpochLines(report))
    trainer.add_callback(MaskEpoch(collator))
    # Each process counts its own share of the batches.
    trainer.add_callback(StepTimer(lambda: trainer.tokens_seen() * max(1, args.world_size)))
    return trainer


def check_converged(report, after: dict, trainer, args):
    """A run whose eval loss is NaN or infinite has diverged: its weights are no model. It is not
    saved (the model already in --output_dir stays), its names are not suggested, and the run ends
    in one error line.
    """
    if math.isfinite(after["eval_loss"]):
        return
    report.say(
        "训练发散 diverged: no name score and no name table for a diverged model; no model saved"
    )
    # Checkpoints (--save_strategy) are the Trainer's, written during training: the later ones hold
    # the diverged weights, and --resume_from_checkpoint True would pick the newest. Say so rather
    # than claim nothing was written.
    checkpoints = sorted(
        (p.name for p in Path(args.output_dir).glob("checkpoint-*")),
        key=lambda n: int(n.split("-")[-1]) if n.split("-")[-1].isdigit() else -1,
    )
    written = (
        f"; the checkpoints in {args.output_dir} ({', '.join(checkpoints)}) may hold diverged"
        " weights: delete them before resuming"
        if checkpoints
        else ""
    )
    raise UserError(
        f"training diverged (eval_loss {after['eval_loss']} after {trainer.state.global_step} steps"
        f" at --learning_rate {args.learning_rate:g}): no model was saved and the model in"
        f" {args.output_dir} is as it was{written}; lower --learning_rate (default 5e-5) or raise"
        " --warmup_steps"
    )


def resolve_checkpoint(args) -> str | None:
    """--resume_from_checkpoint: a checkpoint folder, or True/last for the newest one in
    --output_dir."""
    from transformers.trainer_utils import get_last_checkpoint

    wanted = args.resume_from_checkpoint
    if wanted is None or str(wanted).lower() in ("false", "none", ""):
        return None
    if str(wanted).lower() in ("true", "last"):
        found = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        if found is None:
            raise UserError(
                f"--resume_from_checkpoint {wanted}: no checkpoint-* folder in {args.output_dir}; "
                "start without it, or save checkpoints with --save_strategy epoch"
            )
        return found
    if not os.path.isdir(wanted):
        raise UserError(
            f"--resume_from_checkpoint '{wanted}' is not a folder: pass a checkpoint-N folder or"
            " True"
        )
    return wanted


def check_resumable(checkpoint: str | None, args):
    """Resuming restores the optimizer's state, and with it the weight decay the checkpoint was
    trained with (torch's load_state_dict sets each group's settings): another --weight_decay would
    be silently ignored, and NamingTrainer's one group without decay against the stock two with it
    does not even load. Refused here.
    """
    path = os.path.join(checkpoint, "optimizer.pt") if checkpoint else None
    if path is None or not os.path.isfile(path):
        return
    try:  # mmap: only the few bytes of the groups' settings are read, not the optimizer's state
        groups = torch.load(path, map_location="cpu", weights_only=True, mmap=True)["param_groups"]
    # not a torch optimizer file (deepspeed, ...): the Trainer reports what it cannot load
    except Exception:
        return
    saved = max((g.get("weight_decay", 0.0) for g in groups), default=0.0)
    if not math.isclose(saved, args.weight_decay, rel_tol=1e-9, abs_tol=1e-12):
        raise UserError(
            f"--resume_from_checkpoint: {checkpoint} was trained with --weight_decay {saved:g}, and"
            f" resuming continues its optimizer: pass --weight_decay {saved:g} (not"
            f" {args.weight_decay:g}), or start a new run without --resume_from_checkpoint"
        )


def settle_precision(model, tokenizer, train, data_args, args) -> str | None:
    """--precision auto, now that the model is known: on a GPU, fp32 (TF32) or bf16 autocast,
    whichever runs the first training batch faster; on a CPU with native bf16, fp32 for a small
    model. Returns what it chose and why.
    """
    why = device.cpu_precision_for(args, model)
    if why:
        return f"fp32 ({why})"
    if not device.wants_measured_precision(args):
        return None
    # The very batch the Trainer will train on first: the training collator's
    # padding, mask and positions.
    collator = make_collator(model, tokenizer, args, data_args)
    seconds = device.choose_for_batch(
        args, model, collator(masking.first_examples(train, args.per_device_train_batch_size))
    )
    measured = ", ".join(f"{precision} {s * 1000:.1f} ms" for precision, s in seconds.items())
    return f"{device.precision_of(args)} (a step of the first batch: {measured})"


def collect_metrics(before: dict, after: dict, trainer, train, test) -> dict:
    """What metrics.json holds: before/after losses, perplexities and name scores, sizes and
    speed."""
    return (
        {f"{k}_before": v for k, v in before.items()}
        | after
        | {
            "perplexity_before": perplexity(before["eval_loss"]),
            "perplexity": perplexity(after["eval_loss"]),
            "train_rows": len(train),
            "test_rows": len(test),
            **splitting.test_name_counts(test),
            "train_steps": trainer.state.global_step,
            "world_size": trainer.args.world_size,
            **step_timer(trainer).metrics(trainer.state),
        }
    )
