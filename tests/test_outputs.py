"""outputs.py: the model folder is swapped in atomically and never lost, whatever fails."""

from pathlib import Path

import pytest

import model_card
import outputs


def test_failed_save_leaves_the_previous_model_untouched(tmp_path):
    out = tmp_path / "model"
    outputs.save_atomically(str(out), lambda d: (d / "weights").write_text("old"))

    def broken(folder):
        (folder / "weights").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        outputs.save_atomically(str(out), broken)
    assert (out / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folders left behind
    outputs.save_atomically(str(out), lambda d: (d / "weights").write_text("new"))
    assert (out / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _model_with_old_model_and_checkpoint(tmp_path):
    out = tmp_path / "model"
    outputs.save_atomically(str(out), lambda d: (d / "weights").write_text("old"))
    (out / "checkpoint-5").mkdir()
    (out / "checkpoint-5" / "state").write_text("step 5")
    return out


def _new(folder):
    (folder / "weights").write_text("new")


@pytest.mark.parametrize("how", ["exchange", "rename"])
def test_a_swap_that_fails_leaves_the_previous_model_and_its_checkpoints(
    tmp_path, monkeypatch, how
):
    """The swap itself fails (not write()): a save that deleted the old model before the new one
    was in place would lose it here. 'exchange': the one-step swap fails; 'rename': a system
    without it, whose move of the new folder into place fails after the old one was moved aside."""
    out = _model_with_old_model_and_checkpoint(tmp_path)

    def exchange_fails(a, b):
        raise OSError(5, "I/O error", str(b))

    if how == "exchange":
        monkeypatch.setattr(outputs, "exchange_paths", exchange_fails)
    else:
        monkeypatch.setattr(outputs, "exchange_paths", lambda a, b: False)
        real_rename = Path.rename

        def rename(self, target):
            if Path(target) == out and self.name.startswith(".model.new-"):
                raise OSError(28, "No space left on device")
            return real_rename(self, target)

        monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        outputs.save_atomically(str(out), _new)
    assert (out / "weights").read_text() == "old"
    assert (out / "checkpoint-5" / "state").read_text() == "step 5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_swap_replaces_the_model_and_carries_the_checkpoints(tmp_path, monkeypatch, exchange):
    out = _model_with_old_model_and_checkpoint(tmp_path)
    if not exchange:
        monkeypatch.setattr(outputs, "exchange_paths", lambda a, b: False)
    outputs.save_atomically(str(out), _new)
    assert (out / "weights").read_text() == "new" and (
        out / "checkpoint-5" / "state"
    ).read_text() == "step 5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_exchange_paths_swaps_two_folders_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    if not outputs.exchange_paths(a, b):
        pytest.skip(
            "this filesystem has no renameat2 RENAME_EXCHANGE; save_atomically uses two renames"
        )
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_recover_puts_back_a_model_moved_aside_by_a_killed_save(tmp_path):
    out = tmp_path / "model"
    aside = tmp_path / ".model.old-123"
    aside.mkdir()
    (aside / "weights").write_text("old")
    (tmp_path / ".model.new-xyz").mkdir()
    outputs.recover_output_dir(out)
    assert (out / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # With a model in place, an aside copy is an old one whose deletion was cut short: it goes.
    (tmp_path / ".model.old-456").mkdir()
    outputs.recover_output_dir(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_the_suggestions_file_round_trips_and_is_replaced_in_one_step(tmp_path):
    import json
    import math

    import name_table

    records = name_table.suggestion_records(
        [("子涵", math.log(0.25)), ("涛", math.log(0.125))], "李"
    )
    path = tmp_path / "sub" / "names.json"
    path.parent.mkdir()
    path.write_text("the list of an earlier run", encoding="utf-8")
    outputs.write_suggestions_file(str(path), records)
    assert json.loads(path.read_text(encoding="utf-8")) == records
    # one record a line, readable
    assert path.read_text(encoding="utf-8").count("\n") == len(records) + 2
    assert [p.name for p in path.parent.iterdir()] == ["names.json"]  # no temporary file left
    outputs.write_suggestions_file(str(path), [])
    assert json.loads(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_saved_folder_and_every_file_have_the_modes_the_umask_gives(tmp_path, umask):
    """mkdtemp's 0700 folder and the 0600 that safetensors gives the weights are not what a user
    gets from any other tool: every file as open() makes it, the folder as mkdir makes it."""
    import os

    def write(folder):
        (folder / "config.json").write_text("{}")
        # as safetensors writes it: a private temporary file, renamed
        fd = os.open(folder / "model.safetensors", os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        (folder / "checkpoint-1").mkdir(mode=0o700)
        (folder / "checkpoint-1" / "optimizer.pt").touch(mode=0o600)

    previous = os.umask(umask)
    try:
        assert outputs.current_umask() == umask
        outputs.save_atomically(str(tmp_path / "out"), write)
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert modes == {
        "config.json": 0o666 & ~umask,
        "model.safetensors": 0o666 & ~umask,
        "checkpoint-1": 0o777 & ~umask,
        "checkpoint-1/optimizer.pt": 0o666 & ~umask,
    }


def test_a_trained_model_folder_has_one_mode_for_every_file(trained):
    work, proc = trained
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = work / "out"
    umask = outputs.current_umask()
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        p.name: 0o666 & ~umask for p in out.iterdir()
    }
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_the_loss_curve_holds_only_the_evaluations_made_during_training():
    """With --load_best_model_at_end the Trainer has loaded epoch 1's checkpoint and app.py
    evaluates it after training, logged at the last step: drawn, that looked like a jump at the
    last epoch (3.2 -> 2.9 -> 3.2)."""
    log = [
        {"loss": 4.0, "epoch": 1.0, "step": 7},
        {"eval_loss": 3.2, "epoch": 1.0, "step": 7},
        {"loss": 3.5, "epoch": 2.0, "step": 14},
        {"eval_loss": 3.4, "epoch": 2.0, "step": 14},
        {"train_runtime": 5.0, "train_loss": 3.75, "epoch": 2.0, "step": 14},
        {"eval_loss": 3.2, "epoch": 2.0, "step": 14},  # the best checkpoint, evaluated again
    ]
    train, evals = model_card.training_curve(log, before=5.0)
    assert train == [(1.0, 4.0), (2.0, 3.5)]
    assert evals == [(0.0, 5.0), (1.0, 3.2), (2.0, 3.4)]
