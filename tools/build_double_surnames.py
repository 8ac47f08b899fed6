"""Build data/double_surnames.tsv: the double surnames (复姓) of the 百家姓 and their traditional
forms, so that 歐陽傑, 司馬婷 and 钟离娜 split into 歐陽 + 傑, 司馬 + 婷, 钟离 + 娜.

Sources: the 百家姓 (Song dynasty, public domain), whose 60 double surnames are typed below in its
order; and Unicode's Unihan database (kTraditionalVariant, Unihan_Variants.txt, as Debian's
unicode-data package installs it) for each character's traditional forms. A surname's forms are
every combination of its characters' forms (钟 has two, 鍾 and 鐘: 鍾離 and 鐘離 both), mixed ones
included, since a corpus may be typed either way.

    sudo apt-get install unicode-data      # Unihan 15.0.0 on Debian 12
    python tools/build_double_surnames.py  # rewrites data/double_surnames.tsv (a few kB)

tests/test_names.py rebuilds the file from the installed Unihan files and compares it byte for byte.
It does not hold single surnames, nor double surnames outside the 百家姓 (names.py adds 独孤).
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from build_unihan import (  # noqa: E402
    NOTICE,
    UNIHAN_DIR,
    read_lines,
    run_build,
    source_path,
)

OUT = REPO / "data" / "double_surnames.tsv"
# The 60 double surnames of the 百家姓, in its order (万俟司马 上官欧阳 ... 南宫 第五). Its
# last lines pair single surnames (仉督 is 仉 and 督, 晋楚 is 晋 and 楚): those are not here.
BAIJIAXING_DOUBLES = (
    "万俟 司马 上官 欧阳 夏侯 诸葛 闻人 东方 赫连 皇甫 尉迟 公羊 澹台 公冶 宗政"
    " 濮阳 淳于 单于 太叔 申屠 公孙 仲孙 轩辕 令狐 钟离 宇文 长孙 慕容 鲜于 闾丘"
    " 司徒 司空 亓官 司寇 子车 颛孙 端木 巫马 公西 漆雕 乐正 壤驷 公良 拓跋 夹谷"
    " 宰父 谷梁 段干 百里 东郭 南门 呼延 羊舌 微生 梁丘 左丘 东门 西门 南宫 第五"
).split()
COLUMNS = ("surname", "traditional_forms")
HEADER = """\
# The double surnames (复姓) of the 百家姓 (public domain), traditional forms from Unihan.
# MODIFIED: built by tools/build_double_surnames.py from Unihan's kTraditionalVariant; the Unicode
# notice below covers those forms.
"""


def traditional_variants(folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(char -> its traditional forms, the Unihan header's {'version', 'date', 'year'})."""
    variants, header = {}, {}
    for line in read_lines(source_path(folder, "Unihan_Variants.txt")):
        if line.startswith("#"):
            if m := re.match(r"# Unicode version: (\S+)", line):
                header["version"] = m.group(1)
            elif m := re.match(r"# Date: (\d{4}-\d\d-\d\d)", line):
                header["date"] = m.group(1)
            elif m := re.match(r"# © (\d{4})", line):
                header["year"] = m.group(1)
            continue
        if "\tkTraditionalVariant\t" in line:
            code, _, value = line.split("\t", 2)
            variants[chr(int(code[2:], 16))] = [chr(int(v[2:], 16)) for v in value.split()]
    return variants, header


def forms(surname: str, variants: dict[str, list[str]]) -> list[str]:
    """Every other way to write the surname: each character as itself or a traditional form."""
    choices = [dict.fromkeys([c, *variants.get(c, [])]) for c in surname]
    return [f for f in map("".join, itertools.product(*choices)) if f != surname]


def build(folder: Path = UNIHAN_DIR) -> str:
    variants, header = traditional_variants(folder)
    notice = NOTICE.split("#\n# MODIFIED")[0].format(**header)
    lines = [HEADER + notice.rstrip("\n"), "\t".join(COLUMNS)]
    lines += [f"{s}\t{' '.join(forms(s, variants))}" for s in BAIJIAXING_DOUBLES]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    return run_build(
        argv, __doc__, build, OUT, lambda text: f"{len(BAIJIAXING_DOUBLES)} double surnames"
    )


if __name__ == "__main__":
    sys.exit(main())
