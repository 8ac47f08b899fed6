"""Data-parallel training with torchrun (2 CPU processes, gloo) and resuming a killed run."""

import json
import math
import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO, start_app


def _common(tiny_model, small_corpus, out, result):
    return [
        "--model_name_or_path",
        str(tiny_model),
        "--train_file",
        str(small_corpus),
        "--output_dir",
        str(out),
        "--result_file",
        str(result),
    ]


LAUNCHERS = {
    "torchrun": [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29531",
    ],
    # --multi_gpu is accelerate's torchrun path; on a CPU machine app.py sets use_cpu, so the group
    # is gloo.
    "accelerate": [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "29532",
    ],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_processes_train_one_model(launcher, tmp_path, tiny_model, small_corpus):
    # CPU processes on any machine: on a one-GPU machine two ranks cannot each have a GPU.
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [
        *LAUNCHERS[launcher],
        str(REPO / "app.py"),
        *_common(tiny_model, small_corpus, tmp_path / "out", tmp_path / "result.txt"),
        "--num_train_epochs",
        "2",
        "--per_device_train_batch_size",
        "4",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # Two processes in one gloo group: each step sees 2 x 4 rows, so an epoch has half the steps.
    assert metrics["world_size"] == 2
    assert metrics["train_steps"] == 2 * math.ceil(metrics["train_rows"] / 8)
    # Only the main process reports and writes.
    assert proc.stdout.count("== 配置 configuration") == 1
    assert proc.stdout.count("report written to") == 1
    assert proc.stdout.count("top 20 names for") == 2
    assert "x 2" in next(line for line in proc.stdout.splitlines() if line.startswith("device"))
    assert (tmp_path / "out" / "model.safetensors").exists()
    # eval_loss is the mean over the masked tokens of the whole test split: the 9 test rows split
    # 5 + 4 (and one repeated to fill the second process's batch) give what one process gives.
    one = subprocess.run(
        [
            sys.executable,
            str(REPO / "app.py"),
            *_common(tiny_model, small_corpus, tmp_path / "one", tmp_path / "one.txt"),
            "--max_steps",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    alone = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert abs(alone["eval_loss_before"] - metrics["eval_loss_before"]) < 1e-5


def test_killed_run_resumes_from_its_checkpoint_with_the_same_steps(
    tmp_path, tiny_model, small_corpus
):
    out = tmp_path / "out"
    args = [
        sys.executable,
        str(REPO / "app.py"),
        *_common(tiny_model, small_corpus, out, tmp_path / "result.txt"),
        "--num_train_epochs",
        "3",
        "--per_device_train_batch_size",
        "1",
        "--save_strategy",
        "epoch",
    ]
    proc = start_app(tmp_path, args[2:], at="die_after_first_checkpoint")
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    (first,) = [p.name for p in out.glob("checkpoint-*")]
    assert not (out / "model.safetensors").exists()  # killed before the final save

    resumed = subprocess.run(
        args + ["--resume_from_checkpoint", "True"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {out / first}" in resumed.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    steps_per_epoch = metrics["train_rows"]  # batch size 1
    assert first == f"checkpoint-{steps_per_epoch}"
    assert metrics["train_steps"] == 3 * steps_per_epoch
    # The resumed run logged only epochs 2 and 3: epoch 1 came from the checkpoint.
    assert "epoch 1/3:" not in resumed.stdout and "epoch 3/3:" in resumed.stdout
    # Its tokens count the checkpoint's too (they covered the resumed steps only): batch size 1
    # pads nothing, so each epoch trains on the same number of tokens.
    state = json.loads((out / first / "trainer_state.json").read_text())
    assert state["num_input_tokens_seen"] > 0
    assert metrics["train_tokens"] == 3 * state["num_input_tokens_seen"]
    assert "steps after the resume" not in resumed.stdout  # it resumed at an epoch's end
    steps = sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    # kept beside the final model
    assert steps == [steps_per_epoch, 2 * steps_per_epoch, 3 * steps_per_epoch]
