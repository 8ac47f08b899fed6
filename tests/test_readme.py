"""The README tells the truth about the output: its `$ python app.py ...` samples are run on a tiny
model and each line they show (titles, table headers, rows, report lines) must have the shape of a
line the run prints, in order.

The samples are read from README.md, not copied here: whoever changes the output (a new column in
the name table, a new report line) changes the README's sample, and this test follows.
"""

import json
import re
import shlex

import pytest

from conftest import REPO, make_tiny_model, read_corpus, run_script, write_jsonl

README = (REPO / "README.md").read_text(encoding="utf-8")
# A number as printed (4.8560, 53%, 9.23e-05, 1/3) or as the README writes one (L.LLLL, PP%,
# 0.PPPPPP).
NUMBER = re.compile(r"(?<![\w.])[0-9A-Z]+(?:\.[0-9A-Z]+)?(?:e-\d+)?%?(?![\w.])")
TABLE_ROW = re.compile(r"^\s+\d+\s{2}\S")


def samples() -> list[tuple[str, list[str]]]:
    """(command, shown lines) of each ```text block of the README that starts with `$ python
    app.py`."""
    found = []
    for block in re.findall(r"```text\n(.*?)```", README, re.S):
        first, *shown = block.rstrip("\n").split("\n")
        if first.startswith("$ python app.py"):
            found.append((first[2:], shown))
    return found


def shape(line: str) -> list[str]:
    """The words of a line with every number as '#'; in a table row, each cell (cells stand two
    spaces apart) as '#' if it is a number and 'w' if not (a name, its pinyin, a meaning of any
    number of words: they differ from model to model)."""
    if TABLE_ROW.match(line):
        return [
            "#" if NUMBER.sub("#", cell) == "#" else "w"
            for cell in re.split(r"\s{2,}", line.strip())
        ]
    return NUMBER.sub("#", line).split()


def assert_shows_the_same_shapes(shown: list[str], printed: str, command: str):
    """Each line shown (but '...' and blank lines) has the shape of a printed line, in the same
    order."""
    lines = [shape(line) for line in printed.splitlines()]
    at = 0
    for line in shown:
        if not line.strip() or line.strip() == "...":
            continue
        wanted = shape(line)
        while at < len(lines) and lines[at] != wanted:
            at += 1
        assert at < len(lines), (
            f"README's sample of `{command}` shows\n    {line}\nbut the run prints no line of that "
            f"shape after the previous one. The run printed:\n{printed}"
        )
        at += 1


def own_corpus_rows() -> list[dict]:
    """The example corpus of「用你自己的语料」: the README's ```json block without labels."""
    for block in re.findall(r"```json\n(.*?)```", README, re.S):
        rows = [json.loads(line) for line in block.splitlines() if line.strip()]
        if rows and all("label" not in r for r in rows):
            return rows
    pytest.fail("README「用你自己的语料」has no ```json block of unlabelled rows")


@pytest.fixture(scope="module")
def readme_runs(tmp_path_factory):
    """Every README sample's command, run in order in one folder (the suggest-only one reads the
    model the first one saved): a tiny model instead of bert-base-chinese, one epoch, 60 rows of
    train.json as train.json. Returns [(command, shown lines, process)]."""
    work = tmp_path_factory.mktemp("readme")
    rows = read_corpus()
    own = own_corpus_rows()
    model = make_tiny_model(work / "tiny", [r["text"] for r in rows + own] + ["今天天气很"])
    write_jsonl(work / "train.json", rows[:60])
    write_jsonl(work / "my_corpus.json", own * 8)
    runs = []
    for command, shown in samples():
        argv = shlex.split(command)[2:]
        if "--do_train" not in argv:  # a training run: the tiny model, briefly
            argv += ["--model_name_or_path", model, "--num_train_epochs", 1]
        runs.append((command, shown, run_script(*argv, cwd=work)))
    return work, runs


def test_the_readme_has_samples_of_training_suggesting_and_an_own_corpus():
    commands = [command for command, _ in samples()]
    assert "python app.py" in commands
    assert any("--do_train False" in c for c in commands)
    assert any("--train_file" in c and "--raw_predictions True" in c for c in commands)


def test_each_readme_sample_has_the_shape_of_the_real_output(readme_runs):
    _, runs = readme_runs
    for command, shown, proc in runs:
        assert proc.returncode == 0, f"`{command}` failed:\n{proc.stderr[-3000:]}"
        assert_shows_the_same_shapes(shown, proc.stdout, command)


def test_the_shape_check_fails_when_a_column_is_added(readme_runs):
    """The check is not blind: a name table with one more column, or a renamed report line, is
    caught."""
    _, runs = readme_runs
    command, shown, proc = runs[0]
    header = next(line for line in shown if line.startswith("rank"))
    for changed in (
        proc.stdout.replace(header.split()[-1], "stars  " + header.split()[-1]),
        proc.stdout.replace("report written to", "report saved to"),
    ):
        with pytest.raises(AssertionError):
            assert_shows_the_same_shapes(shown, changed, command)


def test_a_suggest_only_run_keeps_the_training_report(readme_runs):
    work, runs = readme_runs
    ((train_command, _, train),) = [r for r in runs if r[0] == "python app.py"]
    suggest = next(proc for command, _, proc in runs if "--do_train False" in command)
    assert "report written to suggestions.txt" in suggest.stdout
    # rewritten by the later own-corpus run, if any
    report = (work / "result.txt").read_text(encoding="utf-8")
    assert "女孩的名字叫李[MASK][MASK]" not in report
    assert "女孩的名字叫李[MASK][MASK] (saved model)" in (work / "suggestions.txt").read_text(
        encoding="utf-8"
    )
    config = suggest.stdout.split("== 配置 configuration")[1].split("\n\n")[0]
    # nothing is trained
    for setting in ("epochs", "learning_rate", "mlm_probability", "train_file"):
        assert not re.search(rf"^{setting}\s", config, re.M), config


def test_a_corpus_without_names_gives_a_plain_token_table(readme_runs):
    """The README's own corpus (no labels, nothing about names) with --prompt and
    --raw_predictions: a table of rank, token and probability, no pinyin, no lean, no name quality,
    no name score; the card says what it was.
    """
    work, runs = readme_runs
    command, _, proc = next(r for r in runs if "--raw_predictions True" in r[0])
    assert proc.returncode == 0, proc.stderr[-3000:]
    headers = [line.split() for line in proc.stdout.splitlines() if line.startswith("rank")]
    assert headers == [["rank", "token", "probability"]] * 2
    for absent in ("pinyin", "lean", "name_realism", "gender_fit", "名字质量", "name_top1"):
        assert absent not in proc.stdout
    out = work / "outputs" / "my-model"
    metrics = json.loads((out / "metrics.json").read_text())
    assert not {k for k in metrics if k.startswith(("name_", "gender_"))}, metrics
    card = (out / "README.md").read_text(encoding="utf-8")
    assert (
        "my_corpus.json" in card
        and f"({8 * len(own_corpus_rows())} sentences, no name labels)" in card
    )
    assert "naming a child" not in card and "取名模型" not in card and "name_realism" not in card
    assert '("今天天气很[MASK]")' in card  # the usage example fills the run's own prompt
