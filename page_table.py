"""What the page shows of a name table: the table as HTML (a real <table>, folding into one card
per name on a phone), the summary line under it, and the panel on where the model came from.

It builds strings from the records report.suggestion_records makes (the same records app.py
prints); it searches nothing, checks no input and knows nothing of Gradio (demo.py, serving.py).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import names
import report

HEADERS = (
    "名次 rank",
    "姓名 name",
    "拼音 pinyin",
    "声调 tones",
    "笔画 strokes",
    "含义 meaning",
    "谐音 sound",
    "出处 source",
    "倾向 lean",
    "占比 share",
)

# The page's own styles: the table folds into a card per name on a narrow screen (a phone, 390 px),
# where eight columns cannot fit; the share is a bar.
CSS = """
#name-table {border-collapse: collapse; width: 100%}
#name-table td, #name-table th {padding: 4px 10px; text-align: left; vertical-align: top}
#name-table .name, #name-table td:nth-child(4) {white-space: nowrap}
#name-table .name {font-size: 1.25em}
#name-table .bar {height: 8px; min-width: 2px; background: #f97316; border-radius: 4px;
  margin-top: 4px}
@media (max-width: 640px) {
  #name-table thead {display: none}
  #name-table, #name-table tbody, #name-table tr, #name-table td {
    display: block; width: auto; border: none}
  #name-table tr {border: 1px solid #ddd; border-radius: 8px; margin: 8px 0; padding: 6px 8px}
  #name-table td {padding: 2px 0; overflow-wrap: anywhere; white-space: normal}
  #name-table td::before {content: attr(data-label) "："; color: #666; font-size: 0.85em}
}
"""


def table_html(records: list[dict]) -> str:
    """A real <table>, one row per name (a card on a phone): rank, name, pinyin, tones, strokes,
    each character's sense (Chinese words, then the whole English meaning), the words the name is
    heard as (marked where embarrassing), its source line, lean, and the name's share of the list's
    total probability, with a bar.
    """
    total = sum(r["probability"] for r in records) or 1.0
    top = max((r["probability"] for r in records), default=1.0) or 1.0
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    rows = []
    for rank, r in enumerate(records, start=1):
        # Chinese first (涵：涵养、内涵), Unihan's English after it
        meaning = "<br>".join(
            f"{html.escape(c)}：{html.escape('、'.join(words))} {html.escape(m or '-')}".replace(
                "： ", "："
            )
            for c, words, m in zip(r["given"], r["sense"], r["meaning"], strict=False)
        )
        heard = [h for h in r["homophones"] if h["heard"]]
        sound = "、".join(
            f"<b>{report.MARK}{html.escape(h['word'])}</b>"
            if h["embarrassing"]
            else html.escape(h["word"])
            for h in heard
        )
        share = r["probability"] / total
        cells = [
            str(rank),
            f'<span class="name">{html.escape(r["name"])}</span>',
            html.escape(r["pinyin"]),
            html.escape(report.format_tones(r)),
            html.escape(report.format_strokes(r)),
            meaning or "-",
            sound or "-",
            html.escape(report.format_source(r)),
            html.escape(r["lean"]),
            (
                f'{share:.0%}<div class="bar" style="width:'
                f' {100 * r["probability"] / top:.0f}%"></div>'
            ),
        ]
        rows.append(
            "<tr>"
            + "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(HEADERS, cells, strict=True))
            + "</tr>"
        )
    return (
        "<table"
        f' id="name-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def summary(records: list[dict], gender: str) -> str:
    """What the quality scores say, in a parent's words: how many names a household register takes,
    and how many lean the asked way in real names."""
    n = len(records)
    registrable = sum(r["registrable"] for r in records)
    words = [
        (
            f"{registrable} 个名字的字都在《通用规范汉字表》里，可以上户口"
            if registrable == n
            else f"{n} 个名字里有 {registrable} 个的字都在《通用规范汉字表》里"
        )
    ]
    english = [
        f"{registrable} of {n} names use only standard characters (通用规范汉字表) a household"
        " register takes"
    ]
    if gender in ("boy", "girl"):
        fit = sum(names.fits_gender(r["given"], gender) for r in records)
        words.append(f"{fit} 个在真实名字里多给{'男孩' if gender == 'boy' else '女孩'}")
        english.append(f"{fit} lean to {gender}s in real names")
    return "；".join(words) + "。 " + "; ".join(english) + "."


def about_model(folder: str) -> str:
    """Markdown for the panel: where the model came from, its losses and name score before and
    after training."""
    path = Path(folder)
    lines = [f"**模型 model**: `{path.resolve()}`"]
    metrics_file = path / "metrics.json"
    if not metrics_file.is_file():
        return "\n\n".join(
            lines
            + ["这个文件夹里没有 metrics.json（不是 app.py 训练保存的）。 No metrics.json here."]
        )
    m = json.loads(metrics_file.read_text(encoding="utf-8"))
    rows = [
        ("eval loss", "eval_loss_before", "eval_loss"),
        ("perplexity 困惑度", "perplexity_before", "perplexity"),
        *((f"name_top{k} 名字得分", f"name_top{k}_before", f"name_top{k}") for k in (1, 5, 20)),
        ("name_realism 真实用字", "name_realism_before", "name_realism"),
        ("gender_fit 性别相符", "gender_fit_before", "gender_fit"),
    ]
    table = ["| | 训练前 before | 训练后 after |", "|---|---:|---:|"]
    table += [
        f"| {label} | {_number(m.get(before))} | {_number(m.get(after))} |"
        for label, before, after in rows
        if after in m
    ]
    sizes = (
        f"{m.get('train_rows', '?')} train / {m.get('test_rows', '?')} test sentences,"
        f" {m.get('train_steps', '?')} steps"
    )
    return "\n\n".join(lines + ["\n".join(table), sizes])


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"
