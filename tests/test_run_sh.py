"""run.sh: `bash run.sh [options]` runs app.py, `bash run.sh demo.py [options]` another of our
programs, in the environment run.sh made (here: the one the tests run in, marked as set up, so
nothing is installed)."""

import hashlib
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.fixture
def set_up_env(tmp_path):
    """A VIRTUAL_ENV whose stamp says requirements.txt is installed (scripts/env.sh), with this
    interpreter as its python."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"  # a script, not a link: a link would lose the venv's packages
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    wanted = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(REPO.glob("requirements*.txt")))
    ).hexdigest()
    (venv / ".naming-requirements").write_text(wanted + "\n")
    return dict(os.environ, VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{os.environ['PATH']}")


def _run_sh(env, *argv):
    return subprocess.run(
        ["bash", str(REPO / "run.sh"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_sh_runs_demo_py_with_its_options(set_up_env):
    proc = _run_sh(set_up_env, "demo.py", "--prot", "7861")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == ""  # nothing installed, no address
    assert proc.stderr == (
        "error: unknown option --prot (did you mean --port?): python demo.py --help lists the"
        " options\n"
    )


def test_run_sh_runs_app_py_by_default(set_up_env, tiny_model):
    proc = _run_sh(set_up_env, "--model_name_or_path", str(tiny_model), "--surnme", "李")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: unknown option --surnme (did you mean --surname?)")
    assert "python app.py" in proc.stderr
