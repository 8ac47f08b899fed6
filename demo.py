"""A page for parents: type a surname, pick boy or girl, read the names.

    python demo.py                                   # the model app.py saved (outputs/bert-base-chinese-names)
    python demo.py --model_name_or_path FOLDER       # another saved model
    python demo.py --port 7861                       # another port (default 7860)
    python demo.py --host 0.0.0.0                    # reachable from other machines (default: this one only)
    python demo.py --share True                      # a public gradio.live link (off unless asked)

It serves, as a web page (Gradio), the name table that app.py prints: the same suggestion code
(names.suggest_names) and the same rows (report.table_rows: name, pinyin, lean, probability), from a model folder
that app.py saved, loaded once at start. A panel says where the model came from and how its training went
(metrics.json, loss.png). Nothing leaves the machine: Gradio's analytics are off and the page fetches no web
fonts. It does not train a model; python app.py does.
"""

from __future__ import annotations

import html
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import modeling
import names
import outputs
import report
import roles
from errors import OneLineParser, UserError

GENDERS = {"不限 any": "any", "男孩 boy": "boy", "女孩 girl": "girl"}
LENGTHS = {"单字名 1": 1, "双字名 2": 2}
MAX_NAMES = 50  # a list a parent reads through; the search's cost grows with it
HEADERS = ("名次 rank", "姓名 name", "拼音 pinyin", "倾向 lean", "概率 probability")


@dataclass
class DemoArguments:
    model_name_or_path: str = field(default=outputs.DEFAULT_OUTPUT_DIR,
                                    metadata={"help": "A model folder that app.py saved."})
    host: str = field(default="127.0.0.1", metadata={"help": "127.0.0.1: this machine only; 0.0.0.0: the network."})
    port: int = field(default=7860, metadata={"help": "The page's port (Gradio's usual one)."})
    share: bool = field(default=False, metadata={"help": "Also publish the page at a public gradio.live address."})


def main(argv: list[str] | None = None) -> int:
    try:
        (options,) = OneLineParser((DemoArguments,), prog="demo.py").parse_args_into_dataclasses(
            args=sys.argv[1:] if argv is None else argv)
        report.setup_logging(is_main=True)
        serve(build_page(load_suggester(options.model_name_or_path), options.model_name_or_path), options)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def load_suggester(folder: str) -> "Suggester":
    """The model, tokenizer and corpus roles (roles.py) that app.py saved in folder, loaded once."""
    model, tokenizer = modeling.load_model_and_tokenizer(folder, for_training=False)
    return Suggester(model.eval(), tokenizer, roles.load(folder))


class Suggester:
    """The page's one action: the checked inputs in, the table, the quality line and a message out. With the corpus
    roles that app.py saved beside the model (roles.py), it lists what app.py --do_train False lists."""

    def __init__(self, model, tokenizer, corpus_roles=None):
        self.model, self.tokenizer, self.corpus_roles = model, tokenizer, corpus_roles

    def __call__(self, surname: str, gender_label: str, length_label: str, how_many) -> tuple[str, str, str]:
        """(table HTML, quality line, message): a bad input gives an empty table and a message saying why; a list
        shorter than asked for (too few names fit) says so in the message."""
        surname = (surname or "").strip()
        problem = input_problem(surname, how_many)
        if problem:
            return "", "", problem
        gender, length = GENDERS[gender_label], LENGTHS[length_label]
        found = names.suggest_names(self.model, self.tokenizer, names.prompt(surname, gender, length), int(how_many),
                                    gender=gender, exclude=surname, roles=self.corpus_roles)
        quality = names.quality([given for given, _ in found], gender)
        short = names.shortfall(len(found), int(how_many), gender) or ""
        return table_html(report.table_rows(found, surname)), report.format_quality(quality), short


def input_problem(surname: str, how_many) -> str | None:
    """What is wrong with the inputs, said for a parent (Chinese first); None if nothing."""
    if not surname:
        return "请输入姓，如 张、欧阳。 Please type a surname, such as 张 or 欧阳."
    if not names.is_surname(surname):
        return f"姓要是一到两个汉字，如 张、欧阳（现在是「{surname}」）。 The surname must be one or two Chinese characters."
    if how_many is None or not isinstance(how_many, (int, float)) or not math.isfinite(how_many) \
            or how_many != int(how_many) or not 1 <= how_many <= MAX_NAMES:
        return f"名字个数要在 1 到 {MAX_NAMES} 之间。 The number of names must be a whole number from 1 to {MAX_NAMES}."
    return None


def table_html(rows: list[tuple[str, str, str, str]]) -> str:
    """A real <table>: rank, name, pinyin, lean, probability (as app.py prints them)."""
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (rank, *row)) + "</tr>"
                   for rank, row in enumerate(rows, start=1))
    return f'<table id="name-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def about_model(folder: str) -> str:
    """Markdown for the panel: where the model came from, its losses and name score before and after training."""
    path = Path(folder)
    lines = [f"**模型 model**: `{path.resolve()}`"]
    metrics_file = path / "metrics.json"
    if not metrics_file.is_file():
        return "\n\n".join(lines + ["这个文件夹里没有 metrics.json（不是 app.py 训练保存的）。 No metrics.json here."])
    m = json.loads(metrics_file.read_text(encoding="utf-8"))
    rows = [("eval loss", "eval_loss_before", "eval_loss"), ("perplexity 困惑度", "perplexity_before", "perplexity"),
            *((f"name_top{k} 名字得分", f"name_top{k}_before", f"name_top{k}") for k in (1, 5, 20)),
            ("name_realism 真实用字", "name_realism_before", "name_realism"),
            ("gender_fit 性别相符", "gender_fit_before", "gender_fit")]
    table = ["| | 训练前 before | 训练后 after |", "|---|---:|---:|"]
    table += [f"| {label} | {_number(m.get(before))} | {_number(m.get(after))} |" for label, before, after in rows
              if after in m]
    sizes = f"{m.get('train_rows', '?')} train / {m.get('test_rows', '?')} test sentences, {m.get('train_steps', '?')} steps"
    return "\n\n".join(lines + ["\n".join(table), sizes])


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def build_page(suggest: Suggester, folder: str):
    # Before gradio is imported: it reads this when it loads, and would otherwise send usage analytics.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    with gr.Blocks(title="给孩子取名 · Chinese given names", analytics_enabled=False) as page:
        gr.Markdown("# 给孩子取名 / Names for your child\n输入姓，选择男孩或女孩，看看模型推荐的名字。"
                    " Type a surname, pick boy or girl, and read the names the model suggests.")
        with gr.Row():
            surname = gr.Textbox(label="姓 surname", value="张", max_lines=1, elem_id="surname")
            gender = gr.Radio(list(GENDERS), value="不限 any", label="性别 gender", elem_id="gender")
            length = gr.Radio(list(LENGTHS), value="双字名 2", label="名字长度 length", elem_id="length")
            how_many = gr.Number(value=20, label=f"几个名字 how many (1-{MAX_NAMES})", precision=0, elem_id="how-many")
        message = gr.Markdown(elem_id="message")
        go = gr.Button("起名 / Suggest names", variant="primary", elem_id="suggest")
        table = gr.HTML(elem_id="names")
        quality = gr.Markdown(elem_id="quality")
        gr.Markdown("名次按模型的概率和真实名字里的性别统计一起排，所以概率不一定逐行变小；倾向是真实名字里用这些字的男女比例。"
                    " Ranked by the model's probability together with real names' gender statistics, so the"
                    " probability need not fall row by row; the lean is how real names with these characters split"
                    " between boys and girls.", elem_id="how-to-read")
        with gr.Accordion("关于模型 / About the model", open=False):
            gr.Markdown(about_model(folder), elem_id="about")
            loss_plot = Path(folder) / "loss.png"
            if loss_plot.is_file():
                gr.Image(str(loss_plot), label="训练损失 loss", show_label=True, interactive=False)
        inputs, results = [surname, gender, length, how_many], [table, quality, message]
        go.click(suggest, inputs, results)
        surname.submit(suggest, inputs, results)
        page.load(suggest, inputs, results)  # the default table at once, as an example
    return page


def serve(page, options: DemoArguments):
    import gradio as gr

    print(f"网页 page: http://{options.host}:{options.port}  (Ctrl-C stops it)", flush=True)
    try:
        page.launch(server_name=options.host, server_port=options.port, share=options.share, quiet=True,
                    ssr_mode=False, show_error=False, footer_links=[],
                    # System fonts: the default theme would fetch Google's web fonts.
                    theme=gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"]),
                    css="#name-table td, #name-table th {padding: 4px 12px; text-align: left}")
    except OSError as e:
        raise UserError(f"cannot serve the page on {options.host}:{options.port} ({e}): pass another --port") from None


if __name__ == "__main__":
    sys.exit(main())
