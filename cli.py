"""app.py's command line: its option dataclasses parsed with HfArgumentParser, and a --help to read.

--help opens with a short usage, what the script does, and our own options in five groups (model,
data, names, training, precision); the ~150 other options of TrainingArguments all work and are
listed by --help_all. Errors are one line (errors.OneLineParser). It defines no option: the
dataclasses and their defaults live in app.py.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import fields

from errors import OneLineParser, UserError

USAGE = """python app.py [options]          (train, then suggest names)
       python app.py --do_train False --model_name_or_path FOLDER [options]
                                        (suggest from a saved model)
       python app.py config.json        (all options in one JSON file)"""

DESCRIPTION = (
    "Fine-tune bert-base-chinese by masked-language modelling on train.json (naming a child),"
    " print the names it suggests for 小孩的名字叫张[MASK] before and after. Writes --output_dir"
    " and --result_file."
)

# After the model, data and names groups (every field of app.py's own three dataclasses),
# these options of TrainingArguments: the ones app.py gives its own default or help, and the
# ones a newcomer reaches for.
TRAINER_GROUPS = {
    "training (transformers.TrainingArguments; these defaults are ours)": [
        "do_train",
        "output_dir",
        "num_train_epochs",
        "max_steps",
        "learning_rate",
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "seed",
        "save_strategy",
        "resume_from_checkpoint",
        "push_to_hub",
        "hub_model_id",
    ],
    "precision and device": ["precision", "use_cpu", "torch_compile"],
}
OWN_GROUPS = ("model", "data: the corpus and its masking", "names: the suggestion table")

# The Trainer's own help texts, said for this script.
TRAINER_HELP = {
    "max_steps": "Train this many steps instead of the epochs (-1: the epochs).",
    "seed": "Seed of the split, masking, new weights and training order.",
    "hub_model_id": "With --push_to_hub: user/name (unset: --output_dir's name).",
    "use_cpu": "Train on the CPU even where a GPU is present.",
    "torch_compile": "torch.compile the model (pays only for long runs: README「速度」).",
    "push_to_hub": "After saving, upload --output_dir to the Hugging Face Hub once.",
    "resume_from_checkpoint": "A checkpoint-N folder, or True: the newest in --output_dir.",
}


# Trainer flags of transformers 4 that transformers 5 removed, still in run_mlm's older docs and
# many tutorials: what to pass instead.
REMOVED_FLAGS = {
    "--warmup_ratio": "pass the share as --warmup_steps (a number below 1 is a share of the steps)",
    "--group_by_length": "pass --train_sampling_strategy group_by_length",
    "--evaluation_strategy": "pass --eval_strategy",
    "--no_cuda": "pass --use_cpu True",
    "--per_gpu_train_batch_size": "pass --per_device_train_batch_size",
    "--per_gpu_eval_batch_size": "pass --per_device_eval_batch_size",
    "--overwrite_output_dir": (
        "drop it: app.py replaces a model folder it saved (atomically) anyway"
    ),
}


def option_groups(dataclasses) -> dict[str, list[str]]:
    """--help's groups: {title: option names}, in the order shown."""
    own = {
        title: [f.name for f in fields(cls)]
        # zip stops at the last own group: AppTrainingArguments is split by TRAINER_GROUPS
        for title, cls in zip(OWN_GROUPS, dataclasses, strict=False)
    }
    return own | TRAINER_GROUPS


def build_parser(dataclasses) -> OneLineParser:
    parser = OneLineParser(dataclasses, prog="app.py", usage=USAGE, description=DESCRIPTION)
    for dest, text in TRAINER_HELP.items():
        next(a for a in parser._actions if f"--{dest}" in a.option_strings).help = text
    parser.group_options(
        option_groups(dataclasses),
        "other transformers.TrainingArguments options (all work; defaults are the Trainer's)",
    )
    return parser


def parse_args(argv: list[str], dataclasses):
    """The dataclasses filled from argv, or from the one JSON file argv names."""
    removed = [a.split("=")[0] for a in argv if a.split("=")[0] in REMOVED_FLAGS]
    if removed:  # before parsing, which would call it an unknown option with a wrong guess
        raise UserError(
            f"{removed[0]} is no longer a Trainer flag (transformers 5): "
            f"{REMOVED_FLAGS[removed[0]]}"
        )
    parser = build_parser(dataclasses)
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            with open(os.path.abspath(argv[0]), encoding="utf-8") as f:
                given = json.load(f)
            if not isinstance(given, dict):
                raise ValueError(f"config file '{argv[0]}' must hold one JSON object of options")
            return parser.parse_dict(given | implied_options(given))
        extra = implied_options(given_options(argv))
        return parser.parse_args_into_dataclasses(
            args=[*argv, *(x for k, v in extra.items() for x in (f"--{k}", str(v)))]
        )
    except json.JSONDecodeError as e:
        raise UserError(
            f"config file '{argv[0]}' is not valid JSON (line {e.lineno}: {e.msg}): fix that line"
        ) from None
    except (
        ValueError,
        TypeError,
    ) as e:  # TrainingArguments' own checks; a config file's unknown or odd keys
        raise UserError(
            " ".join(line.strip() for line in str(e).strip().splitlines())
        ) from None  # one line, whole
    except OSError as e:
        raise UserError(
            f"config file '{argv[0]}': {e.strerror}: pass a JSON file of options"
        ) from None


def given_options(argv: list[str]) -> dict:
    """{option: value} of the options on the command line (value None for a bare flag)."""
    given = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            following = argv[i + 1] if i + 1 < len(argv) else None
            bare = following is None or following.startswith("--")
            given[name] = value if eq else None if bare else following
    return given


def implied_options(given: dict) -> dict:
    """The options that follow from those given. A step count given alone means its strategy is
    'steps' (the Trainer ignores --save_steps 3 under our default --save_strategy no, and a resume
    then finds no checkpoint); evaluating every N steps logs the training loss every N steps too, so
    that each evaluation line shows the loss of its own period, not the last epoch's. A step count
    against another strategy is refused."""
    implied = {}
    for what in ("save", "eval", "logging"):
        steps, strategy = f"{what}_steps", f"{what}_strategy"
        if steps not in given:
            continue
        if strategy not in given:
            implied[strategy] = "steps"
        elif str(given[strategy]) != "steps":
            raise UserError(
                f"--{steps} {given[steps]} counts steps, but --{strategy} {given[strategy]} does"
                f" not use it: pass --{strategy} steps, or drop --{steps}"
            )
    if implied.get("eval_strategy", given.get("eval_strategy")) == "steps":
        if "logging_strategy" not in given:
            implied["logging_strategy"] = "steps"
            if "logging_steps" not in given and given.get("eval_steps") is not None:
                implied["logging_steps"] = given["eval_steps"]
    return implied


def check_ranges(args):
    """The numbers that torch or the Trainer would otherwise reject deep inside, with a
    traceback."""
    checks = [
        (
            args.learning_rate > 0 and math.isfinite(args.learning_rate),
            "--learning_rate",
            "a positive number such as 5e-5",
            args.learning_rate,
        ),
        (
            args.per_device_train_batch_size >= 1,
            "--per_device_train_batch_size",
            "1 or more",
            args.per_device_train_batch_size,
        ),
        (
            args.per_device_eval_batch_size >= 1,
            "--per_device_eval_batch_size",
            "1 or more",
            args.per_device_eval_batch_size,
        ),
        (
            args.gradient_accumulation_steps >= 1,
            "--gradient_accumulation_steps",
            "1 or more",
            args.gradient_accumulation_steps,
        ),
        (
            args.max_steps > 0
            or (args.num_train_epochs > 0 and math.isfinite(args.num_train_epochs)),
            "--num_train_epochs",
            "more than 0 (or set --max_steps)",
            args.num_train_epochs,
        ),
        (
            args.weight_decay >= 0 and math.isfinite(args.weight_decay),
            "--weight_decay",
            "0 or more",
            args.weight_decay,
        ),
        (
            args.warmup_steps >= 0,
            "--warmup_steps",
            "0 or more (below 1: a share of the steps)",
            args.warmup_steps,
        ),
        (
            args.max_grad_norm is None or args.max_grad_norm >= 0,
            "--max_grad_norm",
            "0 (no clipping) or more",
            args.max_grad_norm,
        ),
        (0 <= args.seed < 2**32, "--seed", "a whole number from 0 to 4294967295", args.seed),
        (
            0 <= args.label_smoothing_factor < 1,
            "--label_smoothing_factor",
            "in [0, 1) such as 0.1",
            args.label_smoothing_factor,
        ),
        (
            args.dataloader_num_workers >= 0,
            "--dataloader_num_workers",
            "0 (load in the main process) or more",
            args.dataloader_num_workers,
        ),
        # Persistent workers keep the collator they got at the first epoch, and with it that
        # epoch's masks (masking.NameMaskingCollator draws each epoch's from the epoch).
        (
            not (args.dataloader_persistent_workers and args.dataloader_num_workers > 0),
            "--dataloader_persistent_workers",
            "False (persistent workers would mask every epoch as the first)",
            args.dataloader_persistent_workers,
        ),
        # The eval loss is the mean over every masked token of the test split, computed once from
        # all rows' sums (evaluation.token_mean_loss), not a running metric of batch means.
        (
            not args.batch_eval_metrics,
            "--batch_eval_metrics",
            "False (the eval loss is computed once, over all masked tokens of the test split)",
            args.batch_eval_metrics,
        ),
        # Evaluation computes the loss only (name scores come after training): nothing else can
        # pick a best model.
        (
            args.metric_for_best_model in (None, "loss", "eval_loss"),
            "--metric_for_best_model",
            "loss (the only metric evaluation computes; leave it unset)",
            args.metric_for_best_model,
        ),
    ]
    for ok, flag, wanted, value in checks:
        if not ok:
            raise UserError(f"{flag} must be {wanted}, got {value}")
