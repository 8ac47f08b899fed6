"""What the page shows of a name table: the table as HTML (a real <table>, folding into one card
per name on a phone), the summary line under it, and the panel on where the model came from.

It builds strings from the records name_table.suggestion_records makes (the same records app.py
prints); it searches nothing, checks no input and knows nothing of Gradio (demo.py, serving.py). The
look-up box's record is checks.check_rows, the lines app.py --check_name prints, as a table.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import checks
import name_table
import names

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

# What the table's columns mean, under it.
HOW_TO_READ = (
    "名次按模型的概率、真实名字里这些字有多常用和性别统计一起排，占比只看模型，"
    "所以不一定逐行变小；占比是这个名字在整张表里所占的分量；"
    "倾向是真实名字里用这些字的男女比例；声调后的「同调」表示每个字声调相同，"
    "读起来平；含义先是带这个字的词和成语，再是 Unicode 汉字库（Unihan）的英文释义；"
    "谐音是叫这个名字时听得到的日常词，加粗带 ! 的会让孩子难堪；"
    "出处是经典里按顺序含这两个字的一句。"
    " Ranked by the model together"
    " with how often real names use the characters and their gender statistics; the share"
    " is the model's alone, the name's part of the whole list; the lean is how real names"
    " with these characters split between boys and girls; 同调 marks a name whose syllables"
    " all have one tone; meanings are Chinese words first, then Unihan's English; sound"
    " lists the words the name is heard as (bold with ! where they would embarrass a"
    " child); source is a classic's line holding both characters in order."
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
.field-note {color: #b91c1c}
#check-table th, #check-table td {padding: 3px 10px; text-align: left; vertical-align: top}
#check-table th {white-space: nowrap; color: #555; font-weight: normal}
#check-table td {overflow-wrap: anywhere}
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
            f"<b>{name_table.MARK}{html.escape(h['word'])}</b>"
            if h["embarrassing"]
            else html.escape(h["word"])
            for h in heard
        )
        share = r["probability"] / total
        cells = [
            str(rank),
            f'<span class="name">{html.escape(r["name"])}</span>',
            html.escape(r["pinyin"]),
            html.escape(name_table.format_tones(r)),
            html.escape(name_table.format_strokes(r)),
            meaning or "-",
            sound or "-",
            html.escape(name_table.format_source(r)),
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


def check_html(record: dict) -> str:
    """One name's record (checks.look_at) as a two-column table: its name, then each fact that
    app.py --check_name prints, the embarrassing sounds in bold as in the name table."""
    rows = [("姓名 name", f'<span class="name">{html.escape(record["name"])}</span>')]
    rows += [
        (key, _sounds(record) if key == "谐音 sound" else html.escape(value))
        for key, value in checks.check_rows(record)
    ]
    body = "".join(f"<tr><th>{key}</th><td>{value}</td></tr>" for key, value in rows)
    return f'<table id="check-table"><tbody>{body}</tbody></table>'


def _sounds(record: dict) -> str:
    said = "、".join(
        f"<b>{name_table.MARK}{html.escape(h['word'])}</b> ({html.escape(h['pinyin'])})"
        if h["embarrassing"]
        else f"{html.escape(h['word'])} ({html.escape(h['pinyin'])})"
        for h in record["homophones"]
    )
    return said or "-"


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
    # (label, before, after, decimals): the perplexity with 2, as app.py prints it (report.py)
    rows = [
        ("eval loss", "eval_loss_before", "eval_loss", 4),
        ("perplexity 困惑度", "perplexity_before", "perplexity", 2),
        *((f"name_top{k} 名字得分", f"name_top{k}_before", f"name_top{k}", 4) for k in (1, 5, 20)),
        ("name_realism 真实用字", "name_realism_before", "name_realism", 4),
        ("gender_fit 性别相符", "gender_fit_before", "gender_fit", 4),
    ]
    table = ["| | 训练前 before | 训练后 after |", "|---|---:|---:|"]
    table += [
        f"| {label} | {_number(m.get(before), digits)} | {_number(m.get(after), digits)} |"
        for label, before, after, digits in rows
        if after in m
    ]
    steps = m.get("train_steps", "?")
    sizes = (
        f"{m.get('train_rows', '?')} train / {m.get('test_rows', '?')} test sentences,"
        f" {steps} {'step' if steps == 1 else 'steps'}"
    )
    return "\n\n".join(lines + ["\n".join(table), sizes])


def _number(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
