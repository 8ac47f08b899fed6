"""The name table of a run, for app.py's suggestion options (--surname, --gender, --pattern, ...).

suggest() asks the search (beam_search.suggest_names) for the options' prompt with their rules;
report_suggestions() prints the table, its notes and its quality line into the report and writes
--suggestions_file; check_fits_model() checks the options against a loaded model before any work.
It holds no naming knowledge (names.py), no search (beam_search.py) and no table layout
(report.py); demo.py builds its page from the same pieces.
"""

from __future__ import annotations

import copy

import beam_search
import checks
import hanzi
import name_sources
import names
import outputs
from errors import UserError
from name_table import (
    RANKING_NOTE,
    format_suggestions,
    format_tokens,
    shortfall,
    suggestion_records,
)
from report import format_quality

# The table's title in Chinese, by the moment of the run it shows.
SUGGESTIONS_ZH = {
    "pretrained": "训练前的推荐",
    "fine-tuned, reloaded from output_dir": "训练后的推荐（从输出目录重新加载）",
    "saved model": "保存的模型的推荐",
}
# --source's beams: measured on 诗经 for 王 girl (README「出处」), 40 gave fewer than 15 names.
SOURCE_BEAM_WIDTH = 200
CHECK_ZH = {
    "pretrained": "训练前看一个名字",
    "fine-tuned, reloaded from output_dir": "训练后看一个名字（从输出目录重新加载）",
    "saved model": "保存的模型看一个名字",
}


def check_options(options):
    """The suggestion options (app.SuggestArguments) on their own, before anything is loaded: each
    bad value is a UserError that names the option and what it takes."""
    if options.gender not in names.PROMPT_TEMPLATES:
        raise UserError(f"--gender must be boy, girl or any, got {options.gender!r}")
    if options.name_length not in (1, 2):
        raise UserError(f"--name_length must be 1 or 2, got {options.name_length}")
    if not names.is_surname(options.surname):
        raise UserError(
            f"--surname must be one or two Chinese characters (张, 欧阳), got {options.surname!r}"
        )
    if options.top_k < 1:
        raise UserError(f"--top_k must be at least 1, got {options.top_k}")
    if not options.gender_weight >= 0:
        raise UserError(f"--gender_weight must be 0 or more, got {options.gender_weight}")
    if options.max_per_character < 0:
        raise UserError(
            f"--max_per_character must be 0 (no limit) or more, got {options.max_per_character}"
        )
    if options.prompt is not None and options.prompt.count(names.MASK) not in (1, 2):
        raise UserError(
            f"--prompt must contain {names.MASK} once (or twice for a two-character name), got"
            f" {options.prompt!r}"
        )
    if problem := names.pattern_and_avoid_problem(
        options.pattern, options.avoid, options.prompt, options.surname, options.gender
    ):
        raise UserError(problem)
    if options.check_name is not None:
        check_name_option(options)
    if options.source is not None:
        source_option(options)
    if options.suggestions_file and options.raw_predictions:
        raise UserError(
            "--suggestions_file writes name records: drop --raw_predictions, or drop"
            " --suggestions_file"
        )


def check_name_option(options):
    """--check_name: a full name of Chinese characters with a one- or two-character given name; it
    sets --surname and --name_length (so it cannot go with --prompt, --pattern or raw tokens)."""
    name = options.check_name
    if not name or not all(names.HAN_CHAR.fullmatch(c) for c in name):
        raise UserError(
            f"--check_name must be a full name in Chinese characters (王子衿), got {name!r}"
        )
    surname, given = names.split_checked_name(name)
    if not 1 <= len(given) <= 2:
        raise UserError(
            f"--check_name {name}: give the surname and a one- or two-character given name (王子衿,"
            " 欧阳娜)"
        )
    for other in ("prompt", "pattern"):
        if getattr(options, other) is not None:
            raise UserError(f"--check_name sets the surname and length itself: drop --{other}")
    if options.raw_predictions:
        raise UserError("--check_name looks at a name: drop --raw_predictions")
    options.surname, options.name_length = surname, len(given)


def source_option(options):
    """--source: one of name_sources.CHOICES; two-character names, so it sets --name_length 2 and
    cannot go with --pattern, --prompt, --check_name or raw tokens."""
    if options.source not in name_sources.CHOICES:
        raise UserError(
            f"--source must be {', '.join(name_sources.CHOICES)}, got {options.source!r}"
        )
    for other in ("prompt", "pattern", "check_name"):
        if getattr(options, other) is not None:
            raise UserError(f"--source picks two-character names from a classic: drop --{other}")
    if options.raw_predictions:
        raise UserError("--source picks names: drop --raw_predictions")
    options.name_length = 2


def check_fits_model(model, tokenizer, suggest_args):
    """The suggestion options that depend on the model, checked as soon as it is loaded: the
    --pattern and surname characters are in its vocabulary, --top_k is not more than it has."""
    if unknown := names.unknown_chars(
        tokenizer, (suggest_args.pattern or "").replace(names.FREE, "")
    ):
        raise UserError(
            f"--pattern {suggest_args.pattern}: {unknown} is not in the model's vocabulary: pick"
            " another"
        )
    if suggest_args.prompt is None and (
        unknown := names.unknown_chars(tokenizer, suggest_args.surname)
    ):
        raise UserError(
            f"--surname {suggest_args.surname}: {unknown} is not in the model's vocabulary (it"
            " would read [UNK]): pass --prompt with the surname written another way"
        )
    if suggest_args.check_name and (
        unknown := names.unknown_chars(tokenizer, suggest_args.check_name)
    ):
        raise UserError(
            f"--check_name {suggest_args.check_name}: {unknown} is not in the model's vocabulary,"
            " so it cannot say what it thinks of the name: try another name"
        )
    if suggest_args.raw_predictions:
        available, what = model.config.vocab_size, "tokens in the model's vocabulary"
    else:
        available = int(
            beam_search.candidates(
                tokenizer,
                model.config.vocab_size,
                excluded_chars(suggest_args),
                suggest_args.registrable_only,
            ).sum()
        )
        what = "given-name characters in the model's vocabulary" + (
            " less --avoid" if suggest_args.avoid else ""
        )
    if suggest_args.top_k > available:
        raise UserError(
            f"--top_k {suggest_args.top_k} is more than the {available} {what}: pass at most"
            f" {available}"
        )


def report_suggestions(
    report, model, tokenizer, suggest_args, when: str, corpus_roles=None
) -> dict:
    """Print the top-k table and its quality line (and a line if fewer names qualify than asked
    for); returns the quality scores (gender_fit, name_realism)."""
    if suggest_args.check_name:
        # The name's rank: where it stands in a deeper list under the same rules.
        deeper = copy.copy(suggest_args)
        deeper.top_k = checks.CHECK_DEPTH
        found = suggest(model, tokenizer, deeper, corpus_roles)
        return checks.report_check(
            report, model, tokenizer, suggest_args, when, found, CHECK_ZH[when], corpus_roles
        )
    found = suggest(model, tokenizer, suggest_args, corpus_roles)
    raw = suggest_args.raw_predictions  # any prompt's raw tokens: no name columns, no name quality
    title = (
        f"{SUGGESTIONS_ZH[when]} top {suggest_args.top_k} {'raw tokens' if raw else 'names'} for "
        f"{suggest_args.resolved_prompt()} ({when})"
    )
    if suggest_args.source:
        title += f" from {suggest_args.source}"
    # A name is shown whole (张涛) when the prompt is ours, i.e. the surname stands right before
    # the masks.
    surname = suggest_args.surname if suggest_args.prompt is None else ""
    report.say()
    lines = (
        [title, *format_tokens(found)]
        if raw
        else format_suggestions(title, found, surname, suggest_args.source)
    )
    for line in lines:
        report.say(line)
    if raw:
        return {}
    report.say(RANKING_NOTE)
    short = shortfall(len(found), suggest_args.top_k, suggest_args.gender)
    if short:
        report.say(short)
    scores = suggestion_quality(found, suggest_args)
    if found:  # no names, no quality to state (the shortfall line says why)
        report.say(format_quality(scores))
    left_out = corpus_chars_left_out(tokenizer, suggest_args, corpus_roles)
    if left_out:
        report.say(left_out)
    # The file holds the table of the model the run ends with.
    if suggest_args.suggestions_file and when != "pretrained":
        records = suggestion_records(found, surname)
        outputs.write_suggestions_file(suggest_args.suggestions_file, records)
        report.say(f"名字表已写入 names written to {suggest_args.suggestions_file}")
    return scores


def corpus_chars_left_out(tokenizer, suggest_args, corpus_roles) -> str | None:
    """One line naming the characters of the training corpus's own given names that the table
    cannot hold, and why (they are candidates otherwise, however rare: roles.py)."""
    if corpus_roles is None:
        return None
    chars = corpus_roles.given_name_chars()
    vocab = tokenizer.get_vocab()
    reasons = {
        "not in the model's vocabulary": [c for c in chars if c not in vocab],
        "not in the 2013 standard table 通用规范汉字表 (--registrable_only False lists them)": [
            c
            for c in chars
            if c in vocab and suggest_args.registrable_only and not hanzi.is_registrable(c)
        ],
    }
    said = [f"{''.join(cs)} {why}" for why, cs in reasons.items() if cs]
    return (
        f"语料里的名字用字没有列出 corpus name characters left out: {'; '.join(said)}"
        if said
        else None
    )


def suggest(model, tokenizer, suggest_args, corpus_roles=None) -> list[tuple[str, float]]:
    """The top-k (given name, log-probability) for the options' prompt, gender and variety rule,
    and the training corpus's roles (roles.py; None: no corpus known). No name whose sound is
    marked embarrassing (name_words.homophones: 范统 饭桶) is suggested where the surname is known
    (not with --prompt): beam_search leaves it out."""
    model.eval()
    return beam_search.suggest_names(
        model,
        tokenizer,
        suggest_args.resolved_prompt(),
        suggest_args.top_k,
        names_only=not suggest_args.raw_predictions,
        gender=suggest_args.gender,
        gender_weight=suggest_args.gender_weight,
        max_per_character=suggest_args.max_per_character,
        exclude=excluded_chars(suggest_args),
        roles=corpus_roles,
        registrable_only=suggest_args.registrable_only,
        pattern=suggest_args.pattern,
        only_pairs=name_sources.pairs(suggest_args.source) if suggest_args.source else None,
        # a classic's pairs start with few of the first characters the model likes best: look wider
        beam_width=SOURCE_BEAM_WIDTH if suggest_args.source else None,
        surname=suggest_args.surname if suggest_args.prompt is None else None,
    )


def excluded_chars(suggest_args) -> str:
    """--avoid, and the surname: a given name never repeats it (张玲张); with an explicit --prompt
    it is unknown."""
    return (suggest_args.surname if suggest_args.prompt is None else "") + suggest_args.avoid


def suggestion_quality(found: list[tuple[str, float]], suggest_args) -> dict:
    """gender_fit, name_realism and registrable of the names found; nothing for raw tokens."""
    if suggest_args.raw_predictions:
        return {}
    return names.quality([given for given, _ in found], suggest_args.gender)
