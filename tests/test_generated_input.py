"""Property-based tests: generated corpus files and options end in a run or in one error line,
never in a traceback, and a refused run never touches the previously saved model.

Most examples test the loading and validation functions in-process (fast); a few run the script end
to end. Example counts and deadlines are bounded so that the whole suite stays within CI's budget.
"""

import json
import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import app
import corpus
from conftest import write_jsonl
from errors import UserError

# No example database in the working directory; fixtures are built once per test, not per example.
BOUNDED = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
# Text a corpus may hold: Chinese, ASCII, punctuation, emoji, control characters, odd whitespace.
ANY_TEXT = st.text(
    alphabet=st.one_of(HAN, st.characters(codec="utf-8", exclude_categories=["Cs"])), max_size=30
)
GB_TEXT = st.text(
    alphabet=st.one_of(HAN, st.characters(min_codepoint=0x20, max_codepoint=0x7E)), max_size=30
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["text", "label", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def _row(text_strategy):
    """A row as a user might write one: mostly right, sometimes with an odd or missing field."""
    text = (
        text_strategy
        | st.sampled_from(["", "   ", "\n"])
        | st.none()
        | st.integers()
        | st.lists(text_strategy, max_size=2)
    )
    label = text_strategy | st.none() | st.integers() | st.sampled_from(["张", "欧阳娜", ""])
    return st.fixed_dictionaries({}, optional={"text": text, "label": label, "other": JSON_VALUES})


def _valid_row(text_strategy):
    text = text_strategy.filter(lambda t: t.strip() and t.isprintable())
    return st.fixed_dictionaries({"text": text}, optional={"label": text_strategy | st.none()})


def _serialize(rows, as_array: bool, blank_lines: bool) -> str:
    if as_array:
        return json.dumps(rows, ensure_ascii=False)
    sep = "\n\n" if blank_lines else "\n"
    return sep.join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


def _load_or_refuse(path):
    """load_corpus's only allowed outcomes: (dataset, encoding) or a one-line UserError naming the
    file."""
    try:
        return corpus.load_corpus(str(path))
    except UserError as e:
        message = str(e)
        assert "\n" not in message and message.startswith(f"train file '{path}'"), message
        return None


# ---- corpus files, in-process ------------------------------------------------------------------
@settings(max_examples=40, **BOUNDED)
@given(raw=st.binary(max_size=400))
def test_random_bytes_load_or_are_refused_in_one_line(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("bytes") / "corpus.json"
    path.write_bytes(raw)
    loaded = _load_or_refuse(path)
    if loaded is not None:
        ds, _ = loaded
        assert len(ds) >= 1 and all(isinstance(t, str) and t.strip() for t in ds["text"])


@settings(max_examples=40, **BOUNDED)
@given(values=st.lists(JSON_VALUES, min_size=1, max_size=5), as_array=st.booleans())
def test_json_of_every_shape_loads_or_is_refused_in_one_line(tmp_path_factory, values, as_array):
    path = tmp_path_factory.mktemp("shapes") / "corpus.json"
    path.write_text(_serialize(values, as_array, blank_lines=False), encoding="utf-8")
    loaded = _load_or_refuse(path)
    # One line holding a list is a JSON array file: its items are the rows.
    rows = (
        values[0] if not as_array and len(values) == 1 and isinstance(values[0], list) else values
    )
    if loaded is not None:  # then every value was a row with a non-empty "text" string
        assert all(
            isinstance(v, dict) and isinstance(v.get("text"), str) and v["text"].strip()
            for v in rows
        )
        assert loaded[0]["text"] == [v["text"] for v in rows]


@settings(max_examples=40, **BOUNDED)
@given(
    rows=st.lists(_row(ANY_TEXT), min_size=1, max_size=6),
    as_array=st.booleans(),
    blank=st.booleans(),
)
def test_rows_with_odd_fields_load_or_are_refused_in_one_line(
    tmp_path_factory, rows, as_array, blank
):
    path = tmp_path_factory.mktemp("rows") / "corpus.json"
    path.write_text(_serialize(rows, as_array, blank), encoding="utf-8")
    loaded = _load_or_refuse(path)
    usable = all(
        isinstance(r.get("text"), str)
        and r["text"].strip()
        and (r.get("label") is None or isinstance(r["label"], str))
        for r in rows
    )
    if loaded is None:
        assert not usable, f"a usable corpus was refused: {rows}"
    else:
        assert [t for t in loaded[0]["text"]] == [r["text"] for r in rows]


@settings(max_examples=30, **BOUNDED)
@given(
    rows=st.lists(_valid_row(GB_TEXT), min_size=1, max_size=8),
    encoding=st.sampled_from(
        ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"]
    ),
    as_array=st.booleans(),
)
def test_valid_corpora_read_the_same_in_every_encoding(tmp_path_factory, rows, encoding, as_array):
    text = _serialize(rows, as_array, blank_lines=False)
    # Short ASCII-only files carry no sign of a two-byte encoding; charset-normalizer cannot tell
    # them.
    assume(
        not encoding.startswith("utf-16-") or any(ord(c) > 0x7F for c in text) or len(text) > 200
    )
    raw = text.encode(encoding)
    # A GBK file that is also valid UTF-8 is read as UTF-8 (corpus._is_utf8_text): only a file of a
    # very few characters can be both (GBK 一 is D2 BB, UTF-8 for Cyrillic һ), and no detector can
    # tell them apart.
    assume(encoding not in ("gbk", "gb18030") or not corpus._decodes(raw, "utf_8"))
    path = tmp_path_factory.mktemp("enc") / "corpus.json"
    path.write_bytes(raw)
    loaded = _load_or_refuse(path)
    assert loaded is not None, f"{encoding} corpus refused: {rows}"
    ds, _ = loaded
    assert ds["text"] == [r["text"] for r in rows]


def test_a_huge_line_loads(tmp_path):
    path = write_jsonl(
        tmp_path / "huge.json", [{"text": "小孩取名叫张涛" * 40_000}, {"text": "小孩取名叫张伟"}]
    )
    ds, _ = corpus.load_corpus(str(path))
    assert [len(t) for t in ds["text"]] == [280_000, 7]


# ---- options, in-process -----------------------------------------------------------------------
NUMBERS = st.one_of(
    st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["abc", "", "1e-3", "-0", "True", "nan"]),
)
FLAGS = {
    "--learning_rate": NUMBERS,
    "--per_device_train_batch_size": NUMBERS,
    "--per_device_eval_batch_size": NUMBERS,
    "--num_train_epochs": NUMBERS,
    "--max_seq_length": NUMBERS,
    "--top_k": NUMBERS,
    "--test_size": NUMBERS,
    "--mlm_probability": NUMBERS,
    "--name_mask_probability": NUMBERS,
    "--seed": NUMBERS,
    "--name_length": NUMBERS,
    "--gender_weight": NUMBERS,
    "--max_per_character": NUMBERS,
    "--gradient_accumulation_steps": NUMBERS,
    "--gender": st.sampled_from(["boy", "girl", "any", "cat", ""]),
    "--surname": ANY_TEXT,
    "--prompt": ANY_TEXT | st.just("我叫王[MASK]"),
    "--precision": st.sampled_from(["auto", "fp32", "int4"]),
    "--raw_predictions": st.sampled_from(["True", "False", "maybe"]),
}


@settings(max_examples=150, **BOUNDED)
@given(
    options=st.dictionaries(st.sampled_from(sorted(FLAGS)), st.nothing(), max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: FLAGS[k] for k in keys})
    )
)
def test_generated_options_parse_or_are_refused_in_one_line(options):
    argv = [x for flag, value in options.items() for x in (flag, value)]
    try:
        _, data_args, suggest_args, args = app.parse_args(argv)
    except UserError as e:
        assert "\n" not in str(e) and str(e)
        return
    # Accepted: then every number is in range.
    assert args.learning_rate > 0 and math.isfinite(args.learning_rate)
    assert args.per_device_train_batch_size >= 1 and args.per_device_eval_batch_size >= 1
    assert (
        0 < data_args.mlm_probability <= 1
        and suggest_args.top_k >= 1
        and suggest_args.name_length in (1, 2)
    )
    assert data_args.max_seq_length >= 8 and suggest_args.gender_weight >= 0


# ---- a few whole runs ----------------------------------------------------------------------------
@settings(max_examples=6, **BOUNDED)
@given(
    rows=st.lists(_row(GB_TEXT), min_size=0, max_size=12),
    encoding=st.sampled_from(["utf-8", "gbk", "utf-16"]),
    extra=st.sampled_from(
        [
            [],
            ["--name_length", "2"],
            ["--top_k", "5000"],
            ["--max_seq_length", "9"],
            ["--test_size", "3"],
        ]
    ),
)
def test_whole_runs_end_in_a_model_or_one_error_line(
    tmp_path_factory, tiny_model, capsys, rows, encoding, extra
):
    work = tmp_path_factory.mktemp("run")
    out = work / "out"
    out.mkdir()
    (out / "model.safetensors").write_text("the model of an earlier run")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:  # a character GBK has no code for: no such GBK file exists
        assume(False)
    (work / "corpus.json").write_bytes(raw)
    status = app.main(
        [
            "--model_name_or_path",
            str(tiny_model),
            "--train_file",
            str(work / "corpus.json"),
            "--output_dir",
            str(out),
            "--result_file",
            str(work / "result.txt"),
            "--num_train_epochs",
            "1",
            "--disable_tqdm",
            "True",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 2:
        assert [line for line in err.splitlines() if line.strip()] == [
            err.strip()
        ] and err.startswith("error: ")
        assert (out / "model.safetensors").read_text() == "the model of an earlier run"
        assert not (work / "result.txt").exists()
    else:
        from transformers import AutoModelForMaskedLM

        assert AutoModelForMaskedLM.from_pretrained(out) is not None
        assert (work / "result.txt").exists()
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
