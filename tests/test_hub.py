"""hub.py: a model that cannot be had (no folder, not in the cache, no network) is app.py's one
error line before torch, transformers and datasets are imported, and the same line the full run
gives; a model that may load is left to the full run."""

import json
import os
import subprocess
import sys

import pytest

import hub
import modeling
from conftest import REPO
from errors import UserError

HEAVY = ("torch", "transformers", "datasets")

# app.py as `python app.py ARGV` runs it; then which heavy modules the process had imported.
RUN_AS_SCRIPT = f"""import runpy, sys
sys.argv = ["app.py", *sys.argv[1:]]
sys.path.insert(0, {str(REPO)!r})  # as python app.py puts its folder first
try:
    runpy.run_path({str(REPO / "app.py")!r}, run_name="__main__")
finally:
    print("imported:", sorted(m for m in {HEAVY!r} if m in sys.modules))
"""


def _run_app(tmp_path, *argv, **env):
    environ = dict(os.environ, HF_HOME=str(tmp_path / "hf-home"), **env)  # an empty cache
    for name, value in env.items():
        if value is None:
            environ.pop(name)
    return subprocess.run(
        [sys.executable, "-c", RUN_AS_SCRIPT, *argv],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_offline_without_the_model_is_one_line_before_the_heavy_imports(tmp_path):
    proc = _run_app(tmp_path)  # conftest: HF_HUB_OFFLINE=1
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr == (
        "error: cannot load model 'bert-base-chinese' (HF_HUB_OFFLINE=1 and it is not in the"
        " Hugging Face cache): pre-download it where there is network (hf download"
        " bert-base-chinese), use a mirror (HF_ENDPOINT=https://your-mirror), or pass"
        " --model_name_or_path a local model folder\n"
    )
    assert proc.stdout == "imported: []\n"


def test_an_unreachable_hub_is_one_line_before_the_heavy_imports(tmp_path):
    # Port 9 (discard) on this machine: refused at once, as an unplugged network is.
    proc = _run_app(tmp_path, HF_HUB_OFFLINE=None, HF_ENDPOINT="http://127.0.0.1:9")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(
        "error: cannot load model 'bert-base-chinese' (it is not in the Hugging Face cache and"
        " http://127.0.0.1:9 cannot be reached)"
    )
    assert proc.stdout == "imported: []\n"


def test_a_model_that_may_load_is_left_to_the_full_run(tmp_path, tiny_model):
    # A local folder and --help go on to the heavy imports (here: --help prints and exits 0).
    proc = _run_app(tmp_path, "--help")
    assert proc.returncode == 0 and "imported: ['datasets', 'torch', 'transformers']" in proc.stdout
    assert hub.model_unavailable_early(["--model_name_or_path", str(tiny_model)]) is None
    assert hub.model_unavailable_early([f"--model_name_or_path={tiny_model}"]) is None
    assert hub.model_unavailable_early(["--model_name_or_path"]) is None  # the parser says it


def test_a_model_in_the_cache_is_left_to_the_full_run(tmp_path):
    snapshot = tmp_path / "models--someone--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--someone--tiny" / "refs").mkdir()
    (tmp_path / "models--someone--tiny" / "refs" / "main").write_text("abc123")
    argv = ["--model_name_or_path", "someone/tiny"]
    assert hub.model_unavailable_early(argv, cache_dir=str(tmp_path)) is None
    assert "someone/tiny" in hub.model_unavailable_early(argv, cache_dir=str(tmp_path / "empty"))


@pytest.mark.parametrize(
    "argv, for_training",
    [
        (["--model_name_or_path", "nobody/no-model"], True),
        (["--do_train", "False", "--model_name_or_path", "outputs/not-trained"], False),
        (["--do_train=no", "--model-name-or-path=outputs/not-trained"], False),
        (["--model_name_or_path", "nobody/no-model", "--do_train"], True),
    ],
)
def test_the_early_line_is_the_one_the_full_run_gives(argv, for_training):
    early = hub.model_unavailable_early(argv)
    name = (
        argv[argv.index("--model_name_or_path") + 1]
        if "--model_name_or_path" in argv
        else ("outputs/not-trained")
    )
    with pytest.raises(UserError) as refused:
        modeling.load_model_and_tokenizer(name, for_training=for_training)
    assert early == str(refused.value)
    if not for_training:
        assert early.startswith("model folder 'outputs/not-trained' does not exist")


def test_a_config_file_names_the_model(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_name_or_path": "nobody/in-config", "do_train": True}))
    assert "'nobody/in-config'" in hub.model_unavailable_early([str(config)])
    config.write_text("{not json")
    assert hub.model_unavailable_early([str(config)]) is None  # the full run names the line
