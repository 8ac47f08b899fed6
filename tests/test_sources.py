"""name_sources.py, data/name_sources.tsv and --source: a name's line of a classic, checked
against the npm package chinese-poetry 2.0.1 itself, and names chosen from a classic's pairs."""

import json
import re
import sys
import tarfile

import pytest

import app
import name_sources
import name_table
import names
from conftest import REPO, make_tiny_model, run_script

sys.path.insert(0, str(REPO / "tools"))
import build_sources  # noqa: E402  (a script, not a package)


@pytest.fixture(scope="module")
def tarball():
    """The package as the npm registry serves it (downloaded once into ~/.cache/naming and checked
    against the registry's sha512); the test fails, it does not skip, where it cannot be had."""
    try:
        import opencc  # noqa: F401
    except ImportError:
        pytest.fail(f"OpenCC is not installed: {build_sources.INSTALL}")
    try:
        return build_sources.tarball(None)
    except build_sources.MissingSource as e:
        pytest.fail(str(e))


def test_the_data_file_is_what_the_tool_builds_from_the_package(tmp_path, tarball):
    out = tmp_path / "sources.tsv"
    assert build_sources.main(["--tarball", str(tarball), "--out", str(out)]) == 0
    assert out.read_bytes() == name_sources.DATA_FILE.read_bytes(), (
        "run python tools/build_sources.py and commit the file"
    )


def test_the_file_names_its_source_licence_and_version():
    head = name_sources.DATA_FILE.read_text(encoding="utf-8")[:700]
    assert "chinese-poetry 2.0.1 (MIT licence" in head and "JackeyGao" in head and "OpenCC" in head


def _package_text(tarball, member: str) -> str:
    with tarfile.open(tarball) as tar:
        return tar.extractfile(f"package/{member}").read().decode("utf-8")


@pytest.mark.parametrize(
    "given, work, title, line",
    [
        ("子衿", "诗经", "郑风·子衿", "青青子衿，悠悠我心"),  # the issue's
        ("清扬", "诗经", "鄘风·君子偕老", "子之清扬，扬且之颜也"),  # first of two 诗经 lines
        ("浩然", "孟子", "公孙丑上", "曰：我知言，我善养吾浩然之气"),  # converted from 養 氣
    ],
)
def test_known_sources_and_their_lines_stand_in_the_package(tarball, given, work, title, line):
    assert name_sources.source(given) == {"work": work, "title": title, "line": line}
    member = next(m for w, m, _ in build_sources.FILES if w == work)
    text = _package_text(tarball, member)
    if work == "孟子":  # traditional in the package
        assert "我善養吾浩然之氣" in text
    else:
        assert line in text and title.split("·")[-1] in text


def test_a_pair_standing_apart_is_a_source_only_when_none_stands_together():
    found = name_sources.source("子宁")  # 子宁 stand together in 郑风·子衿
    assert found["line"] == "纵我不往，子宁不嗣音"
    adjacent, apart = name_sources._lines()
    # 子嗣 also stands apart in that line; every pair's line holds both characters in order
    assert "子嗣" in apart and all(
        re.search(f"{p[0]}.*{p[1]}", line.line)
        for p, works in apart.items()
        for line in works.values()
    )
    assert name_sources.source("宇") is None and name_sources.source("子豪") is None


def test_every_pair_of_a_choice_holds_its_two_characters_next_to_each_other():
    for choice, works in name_sources.CHOICES.items():
        pairs = name_sources.pairs(choice)
        assert len(pairs) > 300, choice
        assert all(line.work in works and given in line.line for given, line in pairs.items())


def test_source_needs_two_characters_and_says_the_choices(tmp_path, tiny_model):
    for value, extra, says in [
        ("诗", (), "--source must be 诗经, 楚辞, 唐诗, 宋词, classics, got '诗'"),
        ("诗经", ("--pattern", "子_"), "drop --pattern"),
        ("诗经", ("--check_name", "王子衿"), "drop --check_name"),
    ]:
        proc = run_script(
            "--do_train", "False", "--model_name_or_path", tiny_model, "--source", value, *extra,
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
        assert proc.stderr.startswith("error: --") and says in proc.stderr


@pytest.fixture(scope="module")
def shijing_model(tmp_path_factory, corpus_rows):
    """A tiny untrained model whose vocabulary holds every character of 诗经's pairs (as
    bert-base-chinese's 21,128 tokens hold nearly all)."""
    extra = sorted({c for pair in name_sources.pairs("诗经") for c in pair})
    return make_tiny_model(
        tmp_path_factory.mktemp("shijing") / "model",
        [r["text"] for r in corpus_rows],
        extra_tokens=extra,
    )


def test_names_from_shijing_each_with_its_line(tmp_path, shijing_model):
    """The issue's Done-when: --source 诗经 --surname 王 --gender girl --name_length 2 gives at
    least 15 rows, each with a 诗经 line that holds both characters in order."""
    out = tmp_path / "names.json"
    status = app.main(
        [
            "--do_train", "False", "--model_name_or_path", str(shijing_model),
            "--source", "诗经", "--surname", "王", "--gender", "girl", "--name_length", "2",
            "--result_file", str(tmp_path / "r.txt"), "--suggestions_file", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    assert len(records) >= 15
    for r in records:
        given = r["given"]
        assert r["source"]["work"] == "诗经" and given in r["source"]["line"], r
        assert names.fits_strictly(given, "girl") and all(map(names.is_name_char, given))
    text = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert "女孩的名字叫王[MASK][MASK] (saved model) from 诗经" in text
    header = next(line for line in text.splitlines() if line.startswith("rank  name"))
    assert header.endswith("sound  source")
    # each row shows its line, first in its last column
    rows = [line for line in text.splitlines() if re.match(r"^\s+\d+  王", line)]
    assert len(rows) == len(records)
    for row, r in zip(rows, records, strict=True):
        # the line, shortened to its clause holding the name where the width asks, and the title
        # whole (its last part at least), never cut mid-title
        cell = row.split("  ")[-1].strip()
        assert r["given"] in cell and cell.endswith(f"{r['source']['title'].split('·')[-1]}）")
        # no fragment of a line's grammar (芄兰之支: 兰之), no name that sounds embarrassing
        assert not name_sources.FUNCTION_CHARS & set(r["given"]), r["given"]
        assert not any(h["embarrassing"] for h in r["homophones"]), r


def test_a_source_is_shortened_line_first_and_its_title_kept():
    record = {
        "given": "秀莹",
        "source": {"work": "诗经", "title": "卫风·淇奥", "line": "有匪君子，充耳秀莹，会弁如星"},
    }
    assert name_table.format_source(record) == "有匪君子，充耳秀莹，会弁如星（诗经·卫风·淇奥）"
    assert name_table.format_source(record, 30) == "…充耳秀莹…（诗经·卫风·淇奥）"
    assert name_table.format_source(record, 20) == "…充耳秀莹…（淇奥）"
    assert name_table.format_source(record, 14) == "…秀莹…（淇奥）"  # the name stays whole
    assert name_table.format_source(record, 8) == "…耳秀莹…"  # the name's line before its title
    assert name_table.format_source(record, 5) == "（淇…"  # not even the name fits
    assert name_table.format_source({"given": "宇", "source": None}, 8) == "-"


def test_function_characters_stay_out_of_source_pairs_but_not_out_of_sources():
    shijing = name_sources.pairs("诗经")
    assert "兰之" not in shijing and "美一" not in shijing and "秀莹" in shijing
    assert name_sources.source("兰之") is not None  # a parent who asks still gets the line


def test_a_table_from_a_classic_cites_that_classics_line():
    """君子 is in 诗经 and in 唐诗: a --source 唐诗 table (and the page's 唐诗 choice) cites its
    唐诗 line, a plain table the first work (诗经)."""
    plain = name_table.suggestion_records([("君子", -1.0)], "王")[0]["source"]
    tang = name_table.suggestion_records([("君子", -1.0)], "王", "唐诗")[0]["source"]
    assert plain["work"] == "诗经" and tang["work"] == "唐诗" and "君子" in tang["line"]
    assert tang == name_sources.pairs("唐诗")["君子"]._asdict()
    # a name the chosen classic lacks keeps its own source
    assert name_sources.source_in("子衿", "唐诗") == name_sources.source("子衿")
