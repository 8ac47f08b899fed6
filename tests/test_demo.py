"""demo.py: the page's functions without a browser, then the page itself, served for real and used in headless
Chromium as a parent would use it."""

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO

import demo

# Chromium as root on a machine with no network: no sandbox, and none of its calls home (refused, many at a time).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def saved(trained):
    """The folder app.py saved in the end-to-end run (tiny model, 2 epochs)."""
    work, proc = trained
    assert proc.returncode == 0, proc.stderr[-2000:]
    return work / "out"


@pytest.fixture(scope="module")
def suggester(saved):
    import modeling

    model, tokenizer = modeling.load_model_and_tokenizer(str(saved), for_training=False)
    return demo.Suggester(model.eval(), tokenizer)


# ---- the page's functions ----------------------------------------------------------------------------
@pytest.mark.parametrize("surname, how_many, words", [
    ("", 20, "请输入姓"), ("Li", 20, "一到两个汉字"), ("诸葛亮明", 20, "一到两个汉字"), ("李1", 20, "汉字"),
    ("李", 0, "1 到 50"), ("李", 51, "1 到 50"), ("李", 2.5, "whole number"), ("李", None, "1 到 50"),
    ("李", float("nan"), "1 到 50"),
])
def test_bad_inputs_get_a_short_message_for_parents(suggester, surname, how_many, words):
    table, quality, message = suggester(surname, "女孩 girl", "双字名 2", how_many)
    assert words in message and "\n" not in message
    assert table == "" and quality == ""


def test_the_page_suggests_what_app_py_suggests(suggester, saved):
    """The same code (names.suggest_names via the same options, report.table_rows): the page's rows are the names,
    pinyin and leans that `python app.py --do_train False` lists for the same surname, gender and length."""
    import app
    import report

    table, quality, message = suggester("欧阳", "女孩 girl", "双字名 2", 12)
    assert message == "" and quality.startswith("名字质量 quality: gender_fit ")
    options = app.SuggestArguments(surname="欧阳", gender="girl", name_length=2, top_k=12)
    expected = report.table_rows(app.suggest(suggester.model, suggester.tokenizer, options), "欧阳")
    assert table == demo.table_html(expected)
    assert table.count("<tr>") == 12 + 1 and all(name.startswith("欧阳") and len(name) == 4 for name, *_ in expected)
    assert all(pinyin.startswith("ōu yáng ") and len(pinyin.split()) == 4 for _, pinyin, *_ in expected)


def test_the_table_is_escaped_html_with_a_rank_per_row():
    html = demo.table_html([("<b>张</b>", "zhāng", "男 90%", "0.100000"), ("李娜", "lǐ nà", "女 99%", "0.050000")])
    assert "<b>张" not in html and "&lt;b&gt;张&lt;/b&gt;" in html
    assert "<td>1</td><td>&lt;b&gt;" in html and "<td>2</td><td>李娜</td>" in html
    assert all(header in html for header in demo.HEADERS)


def test_the_about_panel_reads_the_saved_metrics(saved, tmp_path):
    metrics = json.loads((saved / "metrics.json").read_text())
    about = demo.about_model(str(saved))
    assert str(saved.resolve()) in about
    assert f"| eval loss | {metrics['eval_loss_before']:.4f} | {metrics['eval_loss']:.4f} |" in about
    assert f"{metrics['name_top20']:.4f}" in about and "gender_fit" not in about  # trained for --gender any
    assert "metrics.json" in demo.about_model(str(tmp_path))  # a folder app.py did not save: said so


def test_a_missing_or_damaged_model_ends_the_start_in_one_line(tmp_path, saved, capsys):
    def start(*argv):
        status = demo.main([str(a) for a in argv])
        return status, capsys.readouterr().err

    status, err = start("--model_name_or_path", tmp_path / "none")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: model folder") and "does not exist" in err
    damaged = tmp_path / "damaged"
    shutil.copytree(saved, damaged)
    (damaged / "model.safetensors").write_bytes(b"junk")
    status, err = start("--model_name_or_path", damaged)
    assert status == 2 and err.count("\n") == 1 and "damaged" in err
    status, err = start("--port", "many")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ") and "--port" in err


def test_only_the_page_imports_gradio():
    """python app.py stays as quick to start as before the page existed."""
    for path in REPO.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert ("gradio" in imported) == (path.name == "demo.py"), path.name
    proc = subprocess.run([sys.executable, "-c", "import sys, app, demo; print(sorted(m for m in sys.modules "
                           "if m.split('.')[0] == 'gradio'))"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "[]", proc.stderr[-2000:]  # even demo.py imports it only to build the page


# ---- the page, in a real browser ---------------------------------------------------------------------
def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("the page test needs headless Chromium: sudo apt-get install chromium "
                    "(Debian/Ubuntu), or set CHROMIUM to a Chrome or Chromium executable")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page_url(saved):
    """demo.py serving the saved model on a free port; the URL once the page answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "demo.py"), "--model_name_or_path", str(saved), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300  # a bound for a broken start, not a guess at how long it takes
    while True:
        if proc.poll() is not None:
            pytest.fail(f"demo.py ended at start: {proc.stderr.read()[-2000:]}")
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                break
        except OSError:
            assert time.monotonic() < deadline, "demo.py did not answer"
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.communicate(timeout=60)


def _ask(page, surname: str, gender: str, length: str, how_many: str):
    page.locator("#surname textarea, #surname input").first.fill(surname)
    page.get_by_label(gender).check()
    page.get_by_label(length).check()
    page.locator("#how-many input").fill(how_many)
    page.locator("#suggest").click()


def _rows(page) -> list[list[str]]:
    return [row.split("\t") for row in page.locator("#name-table tbody tr").all_inner_texts()]


def test_a_parent_reads_names_in_a_real_browser(page_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(page_url)
        page.wait_for_selector("#name-table tbody tr")  # the example table, at once
        _ask(page, "李", "女孩 girl", "双字名 2", "12")
        page.wait_for_function("() => { const rows = document.querySelectorAll('#name-table tbody tr');"
                               " return rows.length == 12 && rows[0].children[1].textContent.startsWith('李'); }")
        rows = _rows(page)
        assert [r[0] for r in rows] == [str(i) for i in range(1, 13)]
        for rank, name, pinyin, lean, probability in rows:
            assert name.startswith("李") and len(name) == 3
            assert pinyin.startswith("lǐ ") and len(pinyin.split()) == 3
            assert lean[:1] in "男女" and float(probability) > 0
        assert "gender_fit" in page.locator("#quality").inner_text()
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        if os.environ.get("UPDATE_SCREENSHOT"):  # the README's picture: UPDATE_SCREENSHOT=1 python -m pytest -k browser
            from PIL import Image

            Image.open(tmp_path / "demo.png").quantize(64).save(REPO / "docs" / "demo.png", optimize=True)  # small

        for surname, how_many, words in (("", "12", "请输入姓"), ("Li", "12", "一到两个汉字"), ("李", "0", "1 到 50"),
                                         ("李", "80", "1 到 50")):
            _ask(page, surname, "男孩 boy", "单字名 1", how_many)
            page.wait_for_function("words => document.querySelector('#message').innerText.includes(words)", arg=words)
            assert _rows(page) == [] and "Traceback" not in page.content()
        _ask(page, "欧阳", "男孩 boy", "单字名 1", "5")  # and the page still works
        page.wait_for_function("() => document.querySelectorAll('#name-table tbody tr').length == 5")
        assert all(r[1].startswith("欧阳") and len(r[1]) == 3 for r in _rows(page))
        assert page.locator("#message").inner_text().strip() == ""

        page.get_by_text("关于模型 / About the model").click()
        assert "eval loss" in page.locator("#about").inner_text()
        browser.close()
