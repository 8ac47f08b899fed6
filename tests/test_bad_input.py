"""Bad input: one line on stderr naming the problem and the fix, exit status 2, nothing lost."""

import os
import subprocess
import sys

import pytest
from conftest import REPO, write_jsonl

import app


@pytest.fixture
def run_app(tmp_path, tiny_model, small_corpus, capsys):
    """app.main with a tiny model and small corpus; returns (status, stderr)."""

    def run(*extra, train_file=None):
        argv = ["--model_name_or_path", str(tiny_model), "--train_file", str(train_file or small_corpus),
                "--output_dir", str(tmp_path / "out"), "--result_file", str(tmp_path / "result.txt"),
                "--num_train_epochs", "1", *extra]
        status = app.main(argv)
        return status, capsys.readouterr().err

    return run


def assert_one_line_error(status, err, *words):
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert status == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


def test_train_file_missing(run_app, tmp_path):
    assert_one_line_error(*run_app(train_file=tmp_path / "nope.json"), "nope.json", "not found", "--train_file")


@pytest.mark.parametrize("content, words", [
    ('{"text": "小孩取名叫张涛"}\n{"text": "小孩取名叫张伟"}\n{"text": "小孩取名叫张\n', ["bad.json", "line 3", "not valid JSON"]),
    ('[\n{"text": "小孩取名叫张涛"},\n{"text": 小孩}\n]\n', ["line 3", "not valid JSON"]),  # a JSON array
    ('[{"text": "小孩取名叫张涛"}, {"txt": "小孩取名叫张伟"}]', ["row 2", '"text" is missing']),
    # pyarrow's reader accepts the trailing comma; the check that names the line must not.
    ('{"text": "小孩取名叫张涛"}\n{"text": 1, }\n', ["line 2", "not valid JSON"]),
], ids=["json-lines", "json-array", "array-row-without-text", "trailing-comma"])
def test_broken_file_names_the_line(run_app, tmp_path, content, words):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    assert_one_line_error(*run_app(train_file=bad), *words)


@pytest.mark.parametrize("row, words", [
    ({"label": "张涛"}, ["line 3", "missing"]),
    ({"text": "  "}, ["line 3", "'  '"]),
    ({"text": 42}, ["line 3", "42"]),
    ({"text": "小孩取名叫张涛", "label": 7}, ["line 3", '"label" is 7']),
])
def test_rows_without_usable_text(run_app, tmp_path, row, words):
    rows = [{"text": "小孩取名叫张涛"}, {"text": "小孩取名叫张伟"}, row] + [{"text": "小孩取名叫张婷"}] * 5
    assert_one_line_error(*run_app(train_file=write_jsonl(tmp_path / "rows.json", rows)), *words)


def test_no_text_field_at_all(run_app, tmp_path):
    path = write_jsonl(tmp_path / "rows.json", [{"sentence": "小孩取名叫张涛"}] * 5)
    assert_one_line_error(*run_app(train_file=path), '"text"')


def test_too_few_rows_to_split(run_app, tmp_path):
    path = write_jsonl(tmp_path / "one.json", [{"text": "小孩取名叫张涛", "label": "张涛"}])
    assert_one_line_error(*run_app(train_file=path), "1 rows", "too few", "--test_size")


def test_prompt_without_mask(run_app):
    assert_one_line_error(*run_app("--prompt", "小孩的名字叫张"), "--prompt", "[MASK]")


def test_output_dir_is_a_file(run_app, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(*run_app("--output_dir", str(tmp_path / "file")), "is a file")


def test_output_dir_not_writable(run_app):
    # /proc refuses new folders even to root (the tests may run as root, for whom chmod means nothing).
    assert_one_line_error(*run_app("--output_dir", "/proc/naming-test/out"), "not writable")


@pytest.mark.parametrize("flag, value, words", [
    ("--gender", "cat", ["--gender", "boy, girl or any"]),
    ("--surname", "Zhang", ["--surname", "Chinese characters"]),
    ("--surname", "张1", ["--surname"]),
    ("--name_length", "3", ["--name_length", "1 or 2"]),
    ("--mlm_probability", "0", ["--mlm_probability"]),
    ("--precision", "int4", ["--precision"]),
])
def test_bad_options(run_app, flag, value, words):
    assert_one_line_error(*run_app(flag, value), *words)


def test_suggest_from_a_missing_model_folder(run_app, tmp_path):
    status, err = run_app("--do_train", "False", "--model_name_or_path", str(tmp_path / "outputs" / "none"))
    assert_one_line_error(status, err, "model folder", "does not exist", "train one first")


def test_resume_without_checkpoint(run_app):
    assert_one_line_error(*run_app("--resume_from_checkpoint", "True"), "no checkpoint", "--save_strategy epoch")


def test_failed_run_keeps_the_previously_saved_model(run_app, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_text("the model of an earlier run")
    bad = write_jsonl(tmp_path / "one.json", [{"text": "小孩取名叫张涛"}])
    assert_one_line_error(*run_app(train_file=bad), "too few")
    assert (out / "model.safetensors").read_text() == "the model of an earlier run"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_uncached_model_offline_says_how_to_get_it(tmp_path, small_corpus):
    """A real process with an empty hub cache and HF_HUB_OFFLINE=1: one line, no traceback."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    proc = subprocess.run([sys.executable, str(REPO / "app.py"), "--train_file", str(small_corpus),
                           "--output_dir", str(tmp_path / "out"), "--result_file", str(tmp_path / "r.txt")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for words in ("bert-base-chinese", "HF_HUB_OFFLINE=1", "hf download bert-base-chinese", "--model_name_or_path"):
        assert words in proc.stderr
    assert not (tmp_path / "r.txt").exists() and not (tmp_path / "out").exists()
