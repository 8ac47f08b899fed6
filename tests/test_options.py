"""app.py's options: the prompt that --surname, --gender, --name_length and --prompt make."""

import pytest

import app
import cli
import name_table
import names


@pytest.mark.parametrize(
    "gender, length, surname, expected",
    [
        ("any", 1, "张", "小孩的名字叫张[MASK]"),  # the documented default prompt
        ("girl", 2, "李", "女孩的名字叫李[MASK][MASK]"),
        ("boy", 1, "欧阳", "男孩的名字叫欧阳[MASK]"),
    ],
)
def test_prompt_templates(gender, length, surname, expected):
    args = app.SuggestArguments(gender=gender, name_length=length, surname=surname)
    assert args.resolved_prompt() == expected


def test_explicit_prompt_wins_and_gets_two_masks_for_two_characters():
    assert (
        app.SuggestArguments(prompt="我叫王[MASK]", gender="girl").resolved_prompt()
        == "我叫王[MASK]"
    )
    assert (
        app.SuggestArguments(prompt="我叫王[MASK]", name_length=2).resolved_prompt()
        == "我叫王[MASK][MASK]"
    )


def test_templates_are_sentence_patterns_of_the_corpus(corpus_rows):
    """A trained model has seen the prompt's sentence pattern: every template occurs in
    train.json."""
    texts = [r["text"] for r in corpus_rows]
    for template in names.PROMPT_TEMPLATES.values():
        stem = template.split("{")[0]
        assert sum(t.startswith(stem) for t in texts) >= 10, stem


# ---- --help --------------------------------------------------------------------------------------
def _help(*flag, columns=100):
    import os
    import subprocess
    import sys

    from conftest import REPO

    proc = subprocess.run(
        [sys.executable, str(REPO / "app.py"), *flag],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, COLUMNS=str(columns)),
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout.splitlines()


def test_help_opens_with_a_short_usage_a_description_and_every_option_of_ours():
    # A terminal of 80 columns, the narrowest in common use: no line wider (a Han character takes
    # two columns), so the first 100 lines are what the reader sees first.
    lines = _help("--help", columns=80)
    assert max(map(name_table.display_width, lines)) <= 80
    usage = lines[: lines.index("")]
    assert usage[0].startswith("usage: python app.py") and len(usage) <= 4
    assert "Fine-tune bert-base-chinese" in lines[len(usage) + 1]
    groups = cli.option_groups(app.OPTIONS)
    ours = [name for names in groups.values() for name in names]
    assert {
        "do_train",
        "precision",
        "surname",
        "train_file",
        "raw_predictions",
        "result_file",
    } <= set(ours)
    first = "\n".join(lines[:100])
    for name in ours:
        assert f"\n  --{name} " in first or f"\n  --{name}\n" in first, (
            f"--{name} is not in --help's first 100 lines"
        )
    for title in groups:
        assert f"\n{title}:\n" in first
    # the Trainer's other options wait for --help_all
    assert "--lr_scheduler_type" not in "\n".join(lines)
    assert "--help_all" in first


def test_help_all_lists_every_trainer_option_after_ours():
    text = "\n".join(_help("--help_all"))
    assert (
        text.index("--precision") < text.index("--lr_scheduler_type") < text.index("--ddp_backend")
    )


def test_help_texts_say_what_is_true():
    text = "\n".join(_help("--help"))
    prompt = text.split("\n  --prompt ")[1].split("\n  --")[0]
    assert "(default: None)" not in prompt and "小孩的名字叫张[MASK]" in prompt
    assert "True" in text.split("\n  --resume_from_checkpoint ")[1].split("\n  --")[0]
    push = text.split("\n  --push_to_hub ")[1].split("\n  --")[0]
    assert "every time" not in push and "once" in push
    precision = text.split("\n  --precision ")[1].split("\n  --")[0]
    assert "512" in precision and "first batch" in precision  # the rule device.py applies
    assert f"{app.device.MIN_BF16_HIDDEN_ON_CPU}" in precision
    result = text.split("\n  --result_file ")[1].split("\n  --")[0].split()
    assert "result.txt," in result and "suggestions.txt" in result
