"""Bad input: one line on stderr naming the problem and the fix, exit status 2, nothing lost."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import app
import corpus
import outputs
from conftest import REPO, start_app, write_jsonl


@pytest.fixture
def run_app(tmp_path, tiny_model, small_corpus, capsys):
    """app.main with a tiny model and small corpus; returns (status, stderr)."""

    def run(*extra, train_file=None):
        argv = [
            "--model_name_or_path",
            str(tiny_model),
            "--train_file",
            str(train_file or small_corpus),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "result.txt"),
            "--num_train_epochs",
            "1",
            *extra,
        ]
        status = app.main(argv)
        return status, capsys.readouterr().err

    run.model = tiny_model
    return run


def assert_one_line_error(status, err, *words):
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


def test_train_file_missing(run_app, tmp_path):
    assert_one_line_error(
        *run_app(train_file=tmp_path / "nope.json"), "nope.json", "not found", "--train_file"
    )


@pytest.mark.parametrize(
    "content, words",
    [
        (
            '{"text": "小孩取名叫张涛"}\n{"text": "小孩取名叫张伟"}\n{"text": "小孩取名叫张\n',
            ["bad.json", "line 3", "not valid JSON"],
        ),
        # a JSON array
        ('[\n{"text": "小孩取名叫张涛"},\n{"text": 小孩}\n]\n', ["line 3", "not valid JSON"]),
        ('[{"text": "小孩取名叫张涛"}, {"txt": "小孩取名叫张伟"}]', ["row 2", '"text" is missing']),
        # pyarrow's reader accepts the trailing comma; the check that names the line must not.
        ('{"text": "小孩取名叫张涛"}\n{"text": 1, }\n', ["line 2", "not valid JSON"]),
    ],
    ids=["json-lines", "json-array", "array-row-without-text", "trailing-comma"],
)
def test_broken_file_names_the_line(run_app, tmp_path, content, words):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    assert_one_line_error(*run_app(train_file=bad), *words)


@pytest.mark.parametrize(
    "row, words",
    [
        ({"label": "张涛"}, ["line 3", "missing"]),
        ({"text": "  "}, ["line 3", "'  '"]),
        ({"text": 42}, ["line 3", "42"]),
        ({"text": "小孩取名叫张涛", "label": 7}, ["line 3", '"label" is 7']),
    ],
)
def test_rows_without_usable_text(run_app, tmp_path, row, words):
    rows = [{"text": "小孩取名叫张涛"}, {"text": "小孩取名叫张伟"}, row] + [
        {"text": "小孩取名叫张婷"}
    ] * 5
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
    # /proc refuses new folders even to root (the tests may run as root, for whom chmod means
    # nothing).
    assert_one_line_error(*run_app("--output_dir", "/proc/naming-test/out"), "not writable")


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--gender", "cat", ["--gender", "boy, girl or any"]),
        ("--surname", "Zhang", ["--surname", "Chinese characters"]),
        ("--surname", "张1", ["--surname"]),
        ("--name_length", "3", ["--name_length", "1 or 2"]),
        ("--mlm_probability", "0", ["--mlm_probability"]),
        ("--precision", "int4", ["--precision"]),
        ("--label_smoothing_factor", "1.5", ["--label_smoothing_factor", "[0, 1)"]),
        ("--label_smoothing_factor", "-0.2", ["--label_smoothing_factor", "[0, 1)"]),
        ("--dataloader_num_workers", "-1", ["--dataloader_num_workers", "0"]),
        ("--metric_for_best_model", "name_top20", ["--metric_for_best_model", "loss"]),
        ("--batch_eval_metrics", "True", ["--batch_eval_metrics", "computed once"]),
        # The Trainer's own message spans lines; the one error line keeps all of it (what it found
        # included).
        (
            "--load_best_model_at_end",
            "True",
            ["--load_best_model_at_end", "Evaluation strategy", "Save strategy"],
        ),
        # a typo
        ("--surnme", "李", ["unknown option --surnme", "did you mean --surname?", "--help"]),
        # no abbreviation
        (
            "--num_train_epoch",
            "1",
            ["unknown option --num_train_epoch", "did you mean --num_train_epochs?"],
        ),
    ],
)
def test_bad_options(run_app, flag, value, words):
    assert_one_line_error(*run_app(flag, value), *words)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--pattern", "子"], ["--pattern", "at least one position free"]),
        (["--pattern", "a_"], ["--pattern", "Chinese character or '_'"]),
        (["--pattern", "子子"], ["--pattern", "at least one position free"]),
        (["--pattern", "__子"], ["--pattern", "one or two positions"]),
        # checked once the model is loaded
        (["--pattern", "龘_"], ["--pattern 龘_", "not in the model's vocabulary"]),
        (["--pattern", "子_", "--prompt", "小孩的名字叫张[MASK]"], ["--pattern", "not --prompt"]),
        (["--avoid", "伟 强"], ["--avoid", "Chinese characters"]),
        (["--avoid", "wei"], ["--avoid", "Chinese characters"]),
        (["--suggestions_file", "."], ["--suggestions_file", "is a folder", "names.json"]),
        (
            ["--pattern", "_轩", "--gender", "girl"],
            ["--pattern _轩", "boys' names", "--gender any"],
        ),
        (["--pattern", "芳_", "--gender", "boy"], ["--pattern 芳_", "girls' names"]),
        (["--pattern", "子_", "--avoid", "子"], ["--pattern 子_", "also in --avoid"]),
        (["--pattern", "张_"], ["--pattern 张_", "surname's own"]),
        (
            ["--raw_predictions", "True", "--suggestions_file", "n.json"],
            ["--suggestions_file", "--raw_predictions"],
        ),
        # checked once the model is loaded
        (["--surname", "龘"], ["--surname 龘", "not in the model's vocabulary"]),
    ],
    ids=[
        "no-free-position",
        "latin",
        "both-fixed",
        "three-positions",
        "not-in-vocab",
        "with-prompt",
        "avoid-space",
        "avoid-latin",
        "suggestions-file-folder",
        "fixed-leans-boy",
        "fixed-leans-girl",
        "fixed-avoided",
        "fixed-surname",
        "raw-with-json",
        "surname-not-in-vocab",
    ],
)
def test_bad_pattern_avoid_and_suggestions_file(run_app, extra, words):
    assert_one_line_error(*run_app("--do_train", "False", *extra), *words)


def test_avoiding_every_candidate_is_refused_before_any_work(run_app, tmp_path):
    from transformers import AutoTokenizer

    import names

    tokenizer = AutoTokenizer.from_pretrained(run_app.model)
    every = "".join(t for t in tokenizer.get_vocab() if len(t) == 1 and names.is_name_char(t))
    status, err = run_app("--avoid", every)
    assert_one_line_error(
        status, err, "--top_k 20 is more than the 0 given-name characters", "less --avoid"
    )
    assert not (tmp_path / "out").exists()


def test_suggest_from_a_missing_model_folder(run_app, tmp_path):
    status, err = run_app(
        "--do_train", "False", "--model_name_or_path", str(tmp_path / "outputs" / "none")
    )
    assert_one_line_error(status, err, "model folder", "does not exist", "train one first")


def test_resume_without_checkpoint(run_app):
    assert_one_line_error(
        *run_app("--resume_from_checkpoint", "True"), "no checkpoint", "--save_strategy epoch"
    )


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
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "app.py"),
            "--train_file",
            str(small_corpus),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "r.txt"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for words in (
        "bert-base-chinese",
        "HF_HUB_OFFLINE=1",
        "hf download bert-base-chinese",
        "--model_name_or_path",
    ):
        assert words in proc.stderr
    assert not (tmp_path / "r.txt").exists() and not (tmp_path / "out").exists()


class _Hub(__import__("http.server").server.BaseHTTPRequestHandler):
    """A stand-in hub that answers every request with 404 and remembers the paths asked for."""

    seen: list = []

    def do_HEAD(self):
        self.seen.append(self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *args):
        pass


def _run_without_cache(tmp_path, small_corpus, endpoint):
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"))
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "app.py"),
            "--train_file",
            str(small_corpus),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "r.txt"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_uncached_model_without_network_is_one_line_and_no_retries(tmp_path, small_corpus):
    """No network (HF_ENDPOINT at a closed local port), HF_HUB_OFFLINE unset, empty cache:
    huggingface_hub would retry each file for ~50 s with a warning each time; the one quick look at
    the hub finds it unreachable.
    """
    proc = _run_without_cache(tmp_path, small_corpus, "http://127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # no 'Retrying in 1s' warnings
    for words in (
        "bert-base-chinese",
        "http://127.0.0.1:9 cannot be reached",
        "hf download bert-base-chinese",
        "HF_ENDPOINT",
        "--model_name_or_path",
    ):
        assert words in proc.stderr
    assert not (tmp_path / "r.txt").exists() and not (tmp_path / "out").exists()


def test_uncached_model_with_a_reachable_hub_is_downloaded(tmp_path, small_corpus):
    """Where the hub (here a local stand-in that knows no model) answers, the model is downloaded
    as before: the files are asked for, and the error says the download failed, not that there is
    no network.
    """
    import threading
    from http.server import ThreadingHTTPServer

    _Hub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = _run_without_cache(tmp_path, small_corpus, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert proc.returncode == 2, proc.stderr
    assert any(path.startswith("/bert-base-chinese/") for path in _Hub.seen), _Hub.seen
    assert (
        "download from" in proc.stderr
        and "failed" in proc.stderr
        and "cannot be reached" not in proc.stderr
    )
    assert proc.stderr.strip().count("\n") == 0, proc.stderr


# ---- encodings ------------------------------------------------------------------------------
ROWS = [
    {"text": "小孩取名叫张涛", "label": "张涛"},
    {"text": "女儿的名字叫欧阳娜", "label": "欧阳娜"},
    {"text": "宝宝取名叫张梓涵", "label": "张梓涵"},
]


def _encoded(tmp_path, rows, encoding, name="corpus.json"):
    path = tmp_path / name
    path.write_bytes(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode(encoding)
    )
    return path


@pytest.mark.parametrize(
    "encoding, shown",
    [
        ("utf-8", "UTF-8"),
        ("utf-8-sig", "UTF-8 with BOM"),
        ("gbk", "GB18030/GBK"),
        ("gb18030", "GB18030/GBK"),
        ("utf-16", "UTF-16"),
        ("utf-16-le", "UTF-16"),  # the last without a byte-order mark
    ],
)
def test_corpus_encodings_are_read_transparently(tmp_path, encoding, shown):
    ds, detected = corpus.load_corpus(str(_encoded(tmp_path, ROWS, encoding)))
    assert detected == shown
    assert ds["text"] == [r["text"] for r in ROWS] and ds["label"] == [r["label"] for r in ROWS]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.json"]  # the UTF-8 copy is gone


def test_a_gbk_corpus_trains_and_says_so(run_app, tmp_path, corpus_rows, capsys):
    """The most common file a Chinese Windows user has: Notepad's GBK."""
    path = _encoded(tmp_path, corpus_rows[:60], "gbk", "gbk.json")
    status = app.main(
        [
            "--model_name_or_path",
            str(run_app.model),
            "--train_file",
            str(path),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "r.txt"),
            "--num_train_epochs",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0 and "== 数据 data: 60 rows (GB18030/GBK)" in out
    assert (tmp_path / "out" / "model.safetensors").exists()


@pytest.mark.parametrize(
    "content, words",
    [
        (bytes(range(256)) * 20, ["not text in UTF-8, GBK/GB18030 or UTF-16", "iconv"]),
        ('{"text": "café naïve crème brûlée"}\n'.encode("cp1252"), ["not text", "iconv -f CP12"]),
        (b'{"text": "\x00\x00\x00\x00"}\n', ["NUL", "binary"]),
    ],
    ids=["binary", "western-european", "nul-bytes"],
)
def test_undecodable_files_are_refused_with_the_fix(run_app, tmp_path, content, words):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert_one_line_error(*run_app(train_file=bad), "bad.json", *words)


def test_broken_utf16_file_names_its_line_and_nothing_else(tmp_path, tiny_model):
    """A real process: datasets' own 'Failed to load JSON' / 'ERROR:' lines must not show."""
    bad = tmp_path / "bad.json"
    bad.write_bytes('{"text": "小孩取名叫张涛"}\n{"text": 小孩}\n'.encode("utf-16"))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "app.py"),
            "--model_name_or_path",
            str(tiny_model),
            "--train_file",
            str(bad),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "r.txt"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("error: train file") and "line 2: not valid JSON" in proc.stderr


# ---- options, all decided before training -----------------------------------------------------
@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--learning_rate", "-1", ["--learning_rate", "positive"]),
        ("--learning_rate", "abc", ["--learning_rate", "invalid float", "--help"]),
        ("--per_device_train_batch_size", "0", ["--per_device_train_batch_size", "1 or more"]),
        ("--per_device_eval_batch_size", "-4", ["--per_device_eval_batch_size"]),
        ("--num_train_epochs", "0", ["--num_train_epochs", "--max_steps"]),
        ("--seed", "-1", ["--seed"]),
        ("--max_seq_length", "5000", ["--max_seq_length 5000", "128 positions", "at most 128"]),
        ("--top_k", "100000", ["--top_k 100000", "given-name characters", "at most"]),
        ("--gender_weight", "-1", ["--gender_weight"]),
        ("--max_per_character", "-1", ["--max_per_character"]),
        ("--no_such_option", "1", ["--no_such_option"]),
    ],
)
def test_options_out_of_range_are_refused_before_training(run_app, tmp_path, flag, value, words):
    assert_one_line_error(*run_app(flag, value), *words)
    assert not (tmp_path / "out").exists() and not (tmp_path / "result.txt").exists()


def test_result_file_problems_are_caught_before_training(run_app, tmp_path):
    (tmp_path / "folder").mkdir()
    assert_one_line_error(
        *run_app("--result_file", str(tmp_path / "folder")), "--result_file", "is a folder"
    )
    assert_one_line_error(
        *run_app("--result_file", str(tmp_path / "out")), "--result_file", "is a folder"
    )
    assert_one_line_error(
        *run_app("--result_file", "/proc/naming-test/result.txt"), "--result_file", "not writable"
    )
    assert not (
        tmp_path / "out"
    ).exists()  # refused before training, so nothing was trained or saved
    status, _ = run_app("--result_file", str(tmp_path / "new" / "deeper" / "result.txt"))
    assert status == 0 and (tmp_path / "new" / "deeper" / "result.txt").exists()


# ---- collisions, leftovers, signals ----------------------------------------------------------
def _litter(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_second_run_into_a_busy_output_dir_is_refused(run_app, tmp_path):
    with outputs.exclusive_output_dir(str(tmp_path / "out")):
        assert (tmp_path / ".out.lock").exists()
        assert_one_line_error(*run_app(), "another run is writing to --output_dir", "wait")
    assert _litter(tmp_path) == []  # the lock file goes with the lock
    assert run_app()[0] == 0


def test_leftovers_of_a_killed_save_are_recovered(run_app, tmp_path):
    """Killed with SIGKILL between moving the old model aside and moving the new one in: the next
    run puts the old one back and removes the staging folder, even if it then refuses its own
    input."""
    aside = tmp_path / ".out.old-4242"
    aside.mkdir()
    (aside / "model.safetensors").write_text("the model of an earlier run")
    (tmp_path / ".out.new-abcd").mkdir()
    (tmp_path / ".out.lock").write_text("")  # a killed run's lock file: no process holds it
    bad = write_jsonl(tmp_path / "one.json", [{"text": "小孩取名叫张涛"}])
    assert_one_line_error(*run_app(train_file=bad), "too few")
    assert (tmp_path / "out" / "model.safetensors").read_text() == "the model of an earlier run"
    assert _litter(tmp_path) == []


def _paused(tmp_path, tiny_model, train_file, out):
    """A real run into `out`, stopped after its first training step (conftest.start_app)."""
    return start_app(
        tmp_path,
        [
            "--model_name_or_path",
            tiny_model,
            "--train_file",
            train_file,
            "--output_dir",
            out,
            "--result_file",
            tmp_path / "result.txt",
            "--num_train_epochs",
            "1",
        ],
        at="pause_after_first_step",
    )


def test_two_simultaneous_runs_leave_one_complete_model(tmp_path, tiny_model, small_corpus):
    from transformers import pipeline

    first = _paused(tmp_path, tiny_model, small_corpus, tmp_path / "out")
    try:
        second = subprocess.run(
            [
                sys.executable,
                str(REPO / "app.py"),
                "--model_name_or_path",
                str(tiny_model),
                "--train_file",
                str(small_corpus),
                "--output_dir",
                str(tmp_path / "out"),
                "--result_file",
                str(tmp_path / "r2.txt"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert "another run is writing to --output_dir" in second.stderr
    assert not (tmp_path / "r2.txt").exists()
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert (
        len(
            pipeline("fill-mask", model=str(tmp_path / "out"), device="cpu")(
                "小孩的名字叫张[MASK]", top_k=3
            )
        )
        == 3
    )
    assert _litter(tmp_path) == []


def test_sigkill_leaves_only_what_the_next_run_cleans(run_app, tmp_path, tiny_model, small_corpus):
    killed = _paused(tmp_path, tiny_model, small_corpus, tmp_path / "out")
    killed.kill()  # a stopped process dies at once
    killed.communicate()
    assert _litter(tmp_path) == [".out.lock"]  # nothing else: the save had not started
    status, err = run_app()  # the next run, into the same --output_dir
    assert status == 0, err[-2000:]
    assert _litter(tmp_path) == []


def test_sigterm_stops_like_ctrl_c_and_keeps_the_old_model_and_report(
    tmp_path, tiny_model, small_corpus
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_text("the model of an earlier run")
    (tmp_path / "result.txt").write_text("the report of an earlier run")
    proc = _paused(tmp_path, tiny_model, small_corpus, out)
    # SIGTERM, as docker stop and schedulers send it: handled mid-training once it goes on
    proc.terminate()
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert (
        err.strip().splitlines()[-1].startswith("terminated (SIGTERM)") and "Traceback" not in err
    )
    assert (out / "model.safetensors").read_text() == "the model of an earlier run"
    assert (tmp_path / "result.txt").read_text() == "the report of an earlier run"
    assert _litter(tmp_path) == []


# ---- publishing -------------------------------------------------------------------------------
def test_push_to_hub_without_a_token_is_refused_at_start(tmp_path, small_corpus, tiny_model):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(HF_HUB_OFFLINE="0", HF_HOME=str(tmp_path / "hf"))  # no token file there
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "app.py"),
            "--model_name_or_path",
            str(tiny_model),
            "--train_file",
            str(small_corpus),
            "--output_dir",
            str(tmp_path / "out"),
            "--result_file",
            str(tmp_path / "r.txt"),
            "--push_to_hub",
            "True",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--push_to_hub needs a Hugging Face token" in proc.stderr and "HF_TOKEN" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_push_to_hub_offline_or_unreachable_is_refused_at_start(run_app, tmp_path, monkeypatch):
    import huggingface_hub

    assert_one_line_error(*run_app("--push_to_hub", "True"), "--push_to_hub", "HF_HUB_OFFLINE=1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test")

    def unreachable(token=None):
        raise ConnectionError("no network here")

    monkeypatch.setattr(huggingface_hub, "whoami", unreachable)
    assert_one_line_error(
        *run_app("--push_to_hub", "True"), "--push_to_hub", "cannot be reached", "ConnectionError"
    )
    assert not (tmp_path / "out").exists()


def test_push_to_hub_uploads_the_saved_folder_after_the_save(run_app, tmp_path, monkeypatch):
    """Nothing can reach the hub here: the upload call is replaced, and the test checks the folder
    and the repo id it receives, and that the folder is the complete atomic save at that moment."""
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test")
    monkeypatch.setattr(huggingface_hub, "whoami", lambda token=None: {"name": "someone"})
    calls = []
    monkeypatch.setattr(
        huggingface_hub,
        "create_repo",
        lambda repo_id, **kw: (
            calls.append(("create", repo_id, kw)) or type("RepoUrl", (), {"repo_id": repo_id})()
        ),
    )

    def upload_folder(repo_id, folder_path, **kw):
        calls.append(
            (
                "upload",
                repo_id,
                folder_path,
                sorted(p.name for p in Path(folder_path).iterdir()),
                kw,
            )
        )

    monkeypatch.setattr(huggingface_hub, "upload_folder", upload_folder)
    status, err = run_app("--push_to_hub", "True", "--hub_model_id", "someone/zh-names")
    assert status == 0, err
    create, upload = calls
    assert create[:2] == ("create", "someone/zh-names") and create[2]["token"] == "hf_test"
    assert upload[1:3] == ("someone/zh-names", str(tmp_path / "out"))
    for name in (
        "model.safetensors",
        "tokenizer.json",
        "README.md",
        "loss.png",
        "metrics.json",
        "config.json",
    ):
        assert name in upload[3]
    assert upload[4]["token"] == "hf_test"


def test_a_folder_that_is_no_model_is_never_replaced(run_app, tmp_path):
    """Saving swaps the whole --output_dir: a folder of the user's own files must not be it."""
    mine = tmp_path / "Documents"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert_one_line_error(
        *run_app("--output_dir", str(mine)), "holds files that are no saved model", "new or empty"
    )
    assert (mine / "notes.txt").read_text() == "mine" and sorted(
        p.name for p in mine.iterdir()
    ) == ["notes.txt"]
    assert_one_line_error(*run_app("--output_dir", "."), "current folder")


def test_train_file_that_is_a_folder(run_app, tmp_path):
    assert_one_line_error(*run_app(train_file=tmp_path), "is a folder", "--train_file")


def test_a_damaged_model_folder_says_so(run_app, tmp_path, tiny_model):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model, damaged)
    (damaged / "model.safetensors").write_bytes(b"junk")
    assert_one_line_error(
        *run_app("--do_train", "False", "--model_name_or_path", str(damaged)),
        "cannot be loaded",
        "damaged",
        "SafetensorError",
    )


def test_an_unreadable_train_file(run_app, tmp_path, small_corpus, monkeypatch):
    """As root (CI) chmod does not stop reading, so the read itself is made to fail."""
    real = Path.read_bytes

    def denied(self):
        if self == Path(str(small_corpus)):
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert_one_line_error(*run_app(), "cannot be read", "Permission denied")


def test_a_save_that_fails_on_disk_ends_in_one_line_and_keeps_the_old_model(
    run_app, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_text("the model of an earlier run")

    def disk_full(folder, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "save_atomically", disk_full)
    assert_one_line_error(
        *run_app(), "could not save the model", "No space left on device", "untouched"
    )
    assert (out / "model.safetensors").read_text() == "the model of an earlier run"


def test_a_config_file_that_is_not_json(run_app, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"learning_rate": 5e-5,\n "seed": }\n')
    assert_one_line_error(
        app.main([str(config)]), capsys.readouterr().err, "config file", "not valid JSON", "line 2"
    )
