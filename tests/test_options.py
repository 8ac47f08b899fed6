"""app.py's options: the prompt that --surname, --gender, --name_length and --prompt make."""

import pytest

import app
import names


@pytest.mark.parametrize("gender, length, surname, expected", [
    ("any", 1, "张", "小孩的名字叫张[MASK]"),  # the documented default prompt
    ("girl", 2, "李", "女孩的名字叫李[MASK][MASK]"),
    ("boy", 1, "欧阳", "男孩的名字叫欧阳[MASK]"),
])
def test_prompt_templates(gender, length, surname, expected):
    args = app.SuggestArguments(gender=gender, name_length=length, surname=surname)
    assert args.resolved_prompt() == expected


def test_explicit_prompt_wins_and_gets_two_masks_for_two_characters():
    assert app.SuggestArguments(prompt="我叫王[MASK]", gender="girl").resolved_prompt() == "我叫王[MASK]"
    assert app.SuggestArguments(prompt="我叫王[MASK]", name_length=2).resolved_prompt() == "我叫王[MASK][MASK]"


def test_templates_are_sentence_patterns_of_the_corpus(corpus_rows):
    """A trained model has seen the prompt's sentence pattern: every template occurs in train.json."""
    texts = [r["text"] for r in corpus_rows]
    for template in names.PROMPT_TEMPLATES.values():
        stem = template.split("{")[0]
        assert sum(t.startswith(stem) for t in texts) >= 10, stem
