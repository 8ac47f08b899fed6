"""Fine-tune bert-base-chinese with masked-language modelling so that it suggests given names.

    python app.py                                 # train on train.json, write result.txt
    python app.py --num_train_epochs 5 --seed 7   # every transformers.TrainingArguments flag works
    python app.py --do_train False --model_name_or_path outputs/bert-base-chinese-names \
        --surname 李 --gender girl --name_length 2   # suggest from a saved model, no training
    torchrun --nproc_per_node 2 app.py            # data-parallel; or accelerate launch --multi_gpu

What it does, in order (main() reads the same way): load the model and tokenizer, load the corpus
(JSON Lines or a JSON array of {"text": ..., "label": "张涛"}), tokenize it keeping `word_ids`,
split train/test with --seed, mask the test split once, evaluate (loss, perplexity, name score) and
suggest names, train with transformers.Trainer, evaluate again on the same masked test split, save
model + tokenizer + metrics.json + loss.png + a model card atomically to --output_dir, reload the
saved model and suggest names again, and write the whole report to --result_file.

The name tables list only characters that real given names use, ranked for --gender with real
naming statistics, with pinyin and each name's lean (男 94%); two-character lists vary
(--max_per_character). Every bad input (a GBK or UTF-16 corpus is fine; a broken one is not) ends
in one `error:` line and exit status 2 before any training; SIGTERM and Ctrl-C leave the previous
model and report as they were.

Cost: the default run (350 sentences, 3 epochs) takes 28 to 90 seconds on 2 idle CPU cores with a
model of bert-base-chinese's shape (bf16 on AVX512-BF16 or AMX; fp32 on AVX2; under others' load
many times that: README「要多久」). It writes
--output_dir (about 400 MB) and result.txt (suggestions.txt with --do_train False). python demo.py
serves the name table as a web page.

It downloads nothing but the model, once (the Hugging Face cache comes first; HF_ENDPOINT names a
mirror); with HF_HUB_OFFLINE=1 it only uses the cache or a local folder. bash run.sh sets up .venv
and runs it.

This file is the story: the options, then train_and_suggest(), the pipeline step by step. Each
step's details live in a module named for what it holds:
    corpus.py       reading train.json in any encoding, checking rows, tokenizing with word_ids,
                    the data options' checks
    splitting.py    the train/test split: whole given names held out
    masking.py      DataCollatorForLanguageModeling with name masking; the test split masked once
    modeling.py     loading the model and tokenizer; the training forward at masked positions only
    hub.py          where the model comes from; the one line, before torch, when it cannot be had
    device.py       precision for this hardware (bf16, fp16, TF32), the CPU memory lever
    training.py     the transformers.Trainer and its callbacks
    evaluation.py   the eval loss over masked tokens and the name score (seen and unseen names)
    roles.py        which characters the training corpus gives as names (saved with the model)
    suggestions.py  the name table for the suggestion options: search, print, check, JSON file
    beam_search.py  filling the prompt's [MASK]s with names, under the naming rules
    names.py        naming knowledge: real name characters, gender, surnames, pinyin
    hanzi.py        strokes, meaning and registrable characters (data/unihan_names.tsv)
    name_words.py   Chinese senses and homophones (谐音) of a name (data/name_*.tsv)
    name_sources.py where a two-character name comes from: a line of a classic (data/)
    checks.py       --check_name: one name's record, the model's probability and rank
    report.py       what the run prints: fixed-shape lines, the configuration, the data
    name_table.py   the name table: each name's record (table, JSON, page) and its lines
    outputs.py      the output folder (lock, atomic save, modes), result.txt, publishing
    model_card.py   the saved folder's README.md (the model card) and loss.png
    errors.py       UserError: bad input, said in one line; SIGTERM as an exception
    cli.py          the command line: --help's groups, parsing the options above
Beside them: demo.py (the page), page_inputs.py (its choices, each input's message),
page_table.py (its table) and serving.py (its batches, its busy message); bench*.py and standin.py
(benchmarks on stand-in models).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
from dataclasses import dataclass, field

import hub

# Run as a script, a model that cannot be had (no folder, not cached, no network) is one line at
# once, not after the seconds torch and transformers take to import (README「离线与镜像」).
if __name__ == "__main__":
    hub.exit_if_unavailable(sys.argv[1:])

import torch
from transformers import TrainingArguments, set_seed

import cli
import corpus
import device
import errors
import evaluation
import masking
import modeling
import name_table
import names
import outputs
import roles
import splitting
import suggestions
import training
from errors import UserError
from report import (
    Report,
    close_progress_bars,
    format_configuration,
    format_eval,
    setup_logging,
    show_data,
)


# ----------------------------------------------------------------------------------------------
# Options. Every default lives here, with its reason.
# ----------------------------------------------------------------------------------------------
@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default=hub.DEFAULT_MODEL,
        metadata={
            "help": "A local folder, or a hub name: the cache first, else downloaded once "
            "(HF_ENDPOINT: a mirror)."
        },
    )


@dataclass
class DataArguments:
    train_file: str = field(
        default="train.json",
        metadata={
            "help": (
                'JSON Lines (or an array) of {"text": ..., "label": "张涛"}; label is optional.'
            )
        },
    )
    test_size: float = field(
        # ~50 held-out sentences of the 350: enough for a stable eval loss and name score
        default=0.15,
        metadata={"help": "Held-out share (0-1), or a number of rows."},
    )
    hold_out_names: bool = field(
        default=True,  # a row split trains on every test name too: the score then measures recall
        metadata={"help": "Hold out whole given names: test names never occur in training."},
    )
    max_seq_length: int = field(
        # corpus sentences are under 20 characters; 64 leaves room for users' longer ones
        default=64,
        metadata={"help": "Tokens per sentence; longer sentences are truncated, with a warning."},
    )
    mlm_probability: float = field(
        default=0.15,  # BERT's own pre-training rate
        metadata={"help": "Share of tokens masked (BERT's rate)."},
    )
    name_mask_probability: float = field(
        # bench.py names, tiny model from scratch: name_top20 0.34 (0) -> 0.46 (0.5) -> 0.50 (1.0),
        # eval loss flat. Not 1.0: then a name is always masked whole and the model never learns its
        # second character given the first, which the two-character beam search asks for.
        default=0.5,
        metadata={"help": "Chance that a training sentence also has its whole given name masked."},
    )

    def __post_init__(self):
        corpus.check_options(self)


@dataclass
class SuggestArguments:
    surname: str = field(
        default="张",
        metadata={"help": "Surname for the prompt; double surnames such as 欧阳 work."},
    )
    gender: str = field(
        default="any",
        metadata={"help": "boy, girl or any (男孩/女孩/小孩); boy/girl rank by naming statistics."},
    )
    name_length: int = field(default=1, metadata={"help": "Given-name length: 1 or 2 characters."})
    prompt: str | None = field(
        default=None,
        metadata={
            "help": "Your own prompt with [MASK], instead of 小孩的名字叫张[MASK] (--surname)."
        },
    )
    top_k: int = field(default=20, metadata={"help": "How many names to print."})
    gender_weight: float = field(
        default=names.GENDER_WEIGHT,  # measured: README「名字表」
        metadata={
            "help": "With --gender boy|girl: weight of log P(gender | name) beside the model's "
            "(0: none; the hard rule stays)."
        },
    )
    max_per_character: int = field(
        default=names.MAX_PER_CHARACTER,  # 20 rows then use at least 10 characters in each position
        metadata={
            "help": "Two-character names: rows per character and position, at most (0: any)."
        },
    )
    pattern: str | None = field(
        default=None,
        metadata={
            "help": "A generation character (字辈) and '_' to fill: 子_ or _轩 (wins over "
            "--name_length)."
        },
    )
    avoid: str = field(
        default="", metadata={"help": "Characters never suggested, in any position: 伟强 (避讳)."}
    )
    registrable_only: bool = field(
        default=True,  # a rarer character makes every form and ID card a problem for life
        metadata={"help": "Only 通用规范汉字表 (2013) characters, which a register takes."},
    )
    suggestions_file: str | None = field(
        default=None, metadata={"help": "Also write the last name table as JSON."}
    )
    check_name: str | None = field(  # a parent often has a name in mind already
        default=None,
        metadata={"help": "A full name to look at, not a table (王子衿): its row, rank and sense."},
    )
    source: str | None = field(  # naming from a classic (诗经取名), with the model choosing
        default=None,
        metadata={"help": "诗经, 楚辞, 唐诗, 宋词 or classics (论语, 四书): only its pairs."},
    )
    raw_predictions: bool = field(
        default=False,
        metadata={
            "help": "List the model's raw top-k tokens: no name filter, no gender, no variety rule."
        },
    )
    result_file: str | None = field(
        default=None,  # a suggest-only run must not replace the report of the training run
        metadata={
            "help": f"The run's report; unset: {outputs.TRAINING_REPORT}, or "
            f"{outputs.SUGGEST_REPORT} with --do_train False."
        },
    )

    def __post_init__(self):
        suggestions.check_options(self)

    def resolved_prompt(self) -> str:
        """The prompt with one [MASK] per given-name character: --prompt if given, else the gender
        template."""
        if self.prompt is not None:
            if self.prompt.count(names.MASK) == 1 and self.name_length == 2:
                return self.prompt.replace(names.MASK, names.MASK * 2)
            return self.prompt
        return names.prompt(self.surname, self.gender, self.name_length, self.pattern)


@dataclass
class AppTrainingArguments(TrainingArguments):
    # Defaults for the real bert-base-chinese on a laptop CPU; the rest are the Trainer's.
    output_dir: str = field(
        default=outputs.DEFAULT_OUTPUT_DIR, metadata={"help": "Where the model is saved."}
    )
    do_train: bool = field(
        default=True,
        metadata={"help": "False: no training; suggest from a saved --model_name_or_path."},
    )
    num_train_epochs: float = field(
        default=3.0,
        metadata={"help": "3 passes over train.json's ~300 sentences: the loss has flattened."},
    )
    learning_rate: float = field(
        default=5e-5, metadata={"help": "BERT's fine-tuning rate; higher forgets pre-training."}
    )
    per_device_train_batch_size: int = field(
        default=16, metadata={"help": "16 short sentences: fast on CPU, stable."}
    )
    per_device_eval_batch_size: int = field(
        default=32, metadata={"help": "No gradients, so larger than training."}
    )
    eval_strategy: str = field(
        default="epoch", metadata={"help": "Evaluate once per epoch: the loss curve."}
    )
    logging_strategy: str = field(
        default="epoch", metadata={"help": "One train-loss line per epoch."}
    )
    save_strategy: str = field(
        default="no", metadata={"help": "'epoch' writes resumable checkpoints."}
    )
    prediction_loss_only: bool = field(
        default=True, metadata={"help": "Evaluation needs only the loss."}
    )
    # Both would make a GPU host wait at every step; training.py does both without waiting.
    include_num_input_tokens_seen: str = field(
        default="no", metadata={"help": "The collator counts tokens instead."}
    )
    logging_nan_inf_filter: bool = field(
        default=False, metadata={"help": "NamingTrainer keeps this guard instead."}
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto: on a GPU the faster of fp32 and bf16 (fp16 before Ampere) on the "
            "first batch; on a CPU bf16 where native and the model 512+ wide; or fp32, bf16, fp16."
        },
    )

    def __post_init__(self):
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise UserError(f"--precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        cli.check_ranges(self)
        device.configure(self)  # use_cpu, bf16/fp16, tf32: what this hardware does fast
        # Our collator picks its columns (it uses name_mask, which the model does not take).
        self.remove_unused_columns = False
        # app.py publishes the folder its atomic save wrote, after the save (publish_model); the
        # Trainer's own push would start a hub repo at start-up and never push the final model,
        # which app.py saves itself.
        self.publish, self.push_to_hub = self.push_to_hub, False
        super().__post_init__()


# The options as parsed from the command line or a JSON file; cli.py lays out --help.
OPTIONS = (ModelArguments, DataArguments, SuggestArguments, AppTrainingArguments)


def parse_args(argv: list[str] | None):
    return cli.parse_args(sys.argv[1:] if argv is None else argv, OPTIONS)


# ----------------------------------------------------------------------------------------------
# The run, in the order it happens
# ----------------------------------------------------------------------------------------------
def train_and_suggest(report, model_args, data_args, suggest_args, args):
    """The pipeline: corpus, model, data, evaluate, suggest, train, save, reload, suggest."""
    checkpoint = training.resolve_checkpoint(args)
    training.check_resumable(checkpoint, args)
    rows, encoding = corpus.load_corpus(data_args.train_file)  # datasets.load_dataset("json", ...)
    corpus_roles = roles.count_roles(rows)  # the characters it gives as names; saved with the model
    set_seed(args.seed)
    name_table.read_data_in_background()  # the name table's words, read while the model loads
    model, tokenizer = modeling.load_model_and_tokenizer(
        model_args.model_name_or_path,
        for_training=True,
        masked_positions=args.n_gpu <= 1,  # n_gpu > 1: DataParallel keeps the stock forward
    )
    modeling.check_positions(model, data_args.max_seq_length)
    suggestions.check_fits_model(model, tokenizer, suggest_args)
    train, test, test_masked, processed = prepare_data(rows, tokenizer, data_args, args)
    precision = training.settle_precision(model, tokenizer, train, data_args, args)
    report_configuration(report, model_args, data_args, suggest_args, args)  # with the precision
    masked = masking.masked_examples(train, tokenizer, data_args, args.seed)
    show_data(
        report, len(rows), encoding, processed, train, test, tokenizer, masked, precision, data_args
    )
    trainer = training.build_trainer(model, tokenizer, args, data_args, train, test_masked, report)

    # Before training: held-out loss, perplexity, name score, and the pretrained model's names.
    before = evaluation.evaluate(trainer, model, tokenizer, test)
    report.say()
    report.say(format_eval("before training", before))
    if trainer.is_world_process_zero():
        before |= suggestions.report_suggestions(
            report, model, tokenizer, suggest_args, "pretrained", corpus_roles
        )

    train_model(report, trainer, checkpoint)  # trainer.train()
    after = evaluation.evaluate(trainer, model, tokenizer, test, after_training=True)
    report.say(format_eval("after training", after))
    # A NaN eval loss stops the run here: no names, nothing saved.
    training.check_converged(report, after, trainer, args)
    if not trainer.is_world_process_zero():
        return  # the other processes only train and evaluate

    # The quality goes into metrics.json and the card; the table is printed after the reload.
    found = suggestions.suggest(model, tokenizer, suggest_args, corpus_roles)
    after |= suggestions.suggestion_quality(found, suggest_args)
    metrics = training.collect_metrics(before, after, trainer, train, test)
    outputs.save_outputs(
        model,
        tokenizer,
        trainer,
        model_args,
        data_args,
        suggest_args,
        args,
        metrics,
        rows,
        corpus_roles,
    )
    report.say(
        "已保存 saved model, tokenizer, metrics.json, corpus_roles.json, loss.png and README.md"
        f" to {args.output_dir}"
    )
    # What a user of the saved folder gets: the model as from_pretrained loads it.
    reloaded, tokenizer = modeling.load_model_and_tokenizer(args.output_dir, for_training=False)
    suggestions.report_suggestions(
        report,
        reloaded,
        tokenizer,
        suggest_args,
        "fine-tuned, reloaded from output_dir",
        roles.load(args.output_dir),
    )


def prepare_data(rows, tokenizer, data_args, args):
    """(train, test, test masked once, all rows): tokenized with word_ids, split, masked."""
    with args.main_process_first(desc="tokenize"):
        processed = corpus.tokenize_corpus(rows, tokenizer, data_args.max_seq_length)
    splits = splitting.split_corpus(
        processed, data_args.test_size, args.seed, data_args.hold_out_names
    )
    train, test = splits["train"], splits["test"]
    # The training batches are masked afresh each epoch by the Trainer's collator,
    # NameMaskingCollator: transformers' DataCollatorForLanguageModeling, plus whole given names.
    # The test split is masked once.
    test_masked = masking.mask_test_split_once(
        test, tokenizer, data_args.mlm_probability, args.seed
    )
    return masking.training_columns(train), test, test_masked, processed


def train_model(report, trainer, checkpoint: str | None):
    report.say()
    report.say("== 训练 training")
    if checkpoint:
        report.say(f"resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=checkpoint)


def suggest_only(report, model_args, data_args, suggest_args, args):
    name_table.read_data_in_background()
    model, tokenizer = modeling.load_model_and_tokenizer(
        model_args.model_name_or_path, for_training=False
    )
    suggestions.check_fits_model(model, tokenizer, suggest_args)
    # Printed only after the checks, so that a bad option is one error line.
    report_configuration(report, model_args, data_args, suggest_args, args)
    suggestions.report_suggestions(
        report,
        model,
        tokenizer,
        suggest_args,
        "saved model",
        roles.load(model_args.model_name_or_path),
    )


def report_configuration(report, model_args, data_args, suggest_args, args):
    for line in format_configuration(
        model_args, data_args, suggest_args, args, device.precision_of(args)
    ):
        report.say(line)


def run(argv: list[str] | None = None):
    device.keep_freed_memory()
    # The ~400k objects that torch, transformers and datasets create at import live until exit:
    # exempt them from the collector, which otherwise walks them all in each full collection and
    # once more at exit (~1.3 s a run, measured).
    gc.freeze()
    model_args, data_args, suggest_args, args = parse_args(argv)
    if suggest_args.result_file is None:
        suggest_args.result_file = (
            outputs.TRAINING_REPORT if args.do_train else outputs.SUGGEST_REPORT
        )
    is_main = args.process_index == 0
    setup_logging(is_main)
    outputs.check_before_work(suggest_args, args)
    report = Report(enabled=is_main)
    writes_model = args.do_train and is_main
    with (
        outputs.exclusive_output_dir(args.output_dir) if writes_model else contextlib.nullcontext()
    ):
        if args.do_train:
            train_and_suggest(report, model_args, data_args, suggest_args, args)
        else:
            suggest_only(report, model_args, data_args, suggest_args, args)
        if is_main:
            outputs.write_result_file(suggest_args.result_file, report.lines)
            print(f"report written to {suggest_args.result_file}")
        if writes_model and args.publish:
            print(f"已发布 published {args.output_dir} to {outputs.publish_model(args)}")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Each process tears its gloo/NCCL group down itself: left to interpreter exit, a process
        # sometimes aborts ('terminate called without an active exception') after a good run.
        torch.distributed.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, errors.on_sigterm)
    try:
        run(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_progress_bars()
        print("interrupted: the previous model and report are left as they were", file=sys.stderr)
        return 130
    except errors.Terminated:
        close_progress_bars()
        print(
            "terminated (SIGTERM): the previous model and report are left as they were",
            file=sys.stderr,
        )
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
