"""Issue 39, "lose nothing", end to end: config validation before anything is written, the one-line
stop on SIGTERM through the CLI, and ranks that stop when their launcher dies. The trainer's and the
checkpoints' side of the issue is tested in test_trainer.py."""

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from genlab.core import trainer
from genlab.core.cli import main
from genlab.core.distributed import stop_with_launcher
from genlab.core.recipes.flow2d import Flow2DConfig
from genlab.core.trainer import TrainConfig


def test_cli_exits_with_one_line_on_sigterm_and_resumes(tmp_path, capsys, monkeypatch):
    real_lr_at = trainer.lr_at

    def lr_at(step, cfg):
        if step == 10:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_lr_at(step, cfg)

    monkeypatch.setattr(trainer, "lr_at", lr_at)
    code = main(
        ["train", "flow-2d", "--preset", "smoke", "--steps", "20", "--n_nll", "0", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM
    last = err.rstrip("\n").rsplit("\r", 1)[-1]  # after the progress bar, which erases itself
    assert err.count("\n") == 1 and last.startswith("genlab: stopped by SIGTERM after step 11; saved ")
    run_dir = next(p for p in (tmp_path / "flow-2d").iterdir() if p.name != "latest")
    monkeypatch.setattr(trainer, "lr_at", real_lr_at)
    assert main(["train", "flow-2d", "--resume", str(run_dir)]) == 0
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 20 and (run_dir / "eval.json").is_file()
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--out", str(tmp_path / "e"), "--n_eval", "0"]) == 2
    assert "n_eval must be >= 1, got 0" in capsys.readouterr().err


LAUNCHER = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
    child.stdout.readline()  # the rank watches its parent from here on
    print(child.pid, flush=True)
    time.sleep(300)
    """
)
# the rank runs stop_with_launcher's own source, without importing torch (seconds on a busy machine)
RANK = "\n".join(
    [
        "import os, signal, threading, time",
        textwrap.dedent(inspect.getsource(stop_with_launcher)),
        "stop_with_launcher(poll_s=0.05)",
        "print('watching', flush=True)",
        "time.sleep(300)",
    ]
)


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] == "Z"  # exited, not yet reaped
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_rank_stops_when_its_launcher_is_killed():
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, RANK], stdout=subprocess.PIPE, text=True)
    pid = int(launcher.stdout.readline())
    assert not _gone(pid)
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 60
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("steps", 0, "steps must be >= 1, got 0"),
        ("steps", -5, "steps must be >= 1"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("log_every", 0, "log_every must be >= 1"),
        ("lr", float("inf"), "lr must be in (0, 3.40282e+38], got inf"),
        ("lr", 1e39, "lr must be in (0, 3.40282e+38]"),
        ("lr", 0.0, "lr must be in (0"),
        ("warmup", -10, "warmup must be >= 0"),
        ("ema_decay", 2.0, "ema_decay must be in [0, 1], got 2.0"),
        ("grad_clip", -1.0, "grad_clip must be >= 0"),
        ("keep_checkpoints", 0, "keep_checkpoints must be >= 1"),
        ("keep_checkpoints", -1, "keep_checkpoints must be >= 1"),
        ("beta2", 1.0, "beta2 must be in [0, 1)"),
        ("device", "tpu", "device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
        ("device", "", "device must be auto, cpu, cuda, cuda:N or mps, got ''"),
    ],
)
def test_shared_training_fields_are_validated_when_made(field, value, message):
    with pytest.raises(ValueError) as err:
        TrainConfig(**{field: value})
    assert message in str(err.value)


def test_recipe_fields_are_validated_through_the_shared_check():
    with pytest.raises(ValueError, match="hidden must be >= 1, got 0"):
        Flow2DConfig(hidden=0)
    with pytest.raises(ValueError, match="n_eval must be >= 1, got 0"):
        Flow2DConfig(n_eval=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):  # the shared fields still count
        Flow2DConfig(steps=0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch_size", "0"], "batch_size must be >= 1"),
        (["--hidden", "0"], "hidden must be >= 1"),
        (["--lr", "1e39"], "lr must be in (0, 3.40282e+38]"),
        (["--device", "tpu"], "device must be auto, cpu, cuda"),
        (["--keep_checkpoints", "0"], "keep_checkpoints must be >= 1"),
    ],
)
def test_cli_refuses_bad_values_before_writing_anything(tmp_path, capsys, argv, message):
    code = main(["train", "flow-2d", "--preset", "smoke", "--out", str(tmp_path / "runs"), *argv])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_missing_gpu_is_named(tmp_path, capsys):
    code = main(["train", "flow-2d", "--preset", "smoke", "--out", str(tmp_path / "r"), "--device", "cuda"])
    assert code == 2 and "device cuda is not available: torch sees no GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("out", ["file", "/dev/null", "x" * 300])
def test_an_unusable_out_is_named(tmp_path, capsys, out, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    code = main(["train", "flow-2d", "--preset", "smoke", "--steps", "1", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and f"--out {out}: cannot make a run directory there" in err


def test_a_full_disk_while_drawing_figures_leaves_no_partial_file(tmp_path):
    import errno

    from genlab.core.errors import GenlabError
    from genlab.core.run import whole_files_only

    (tmp_path / "eval.json").write_text("{}")  # complete before: kept
    with pytest.raises(GenlabError, match="disk is full .* removed the partial samples.png"):
        with whole_files_only(tmp_path):
            (tmp_path / "samples.png").write_bytes(b"\x89PNG cut sh")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]
    with pytest.raises(OSError, match="Permission"):  # other errors pass through untouched
        with whole_files_only(tmp_path):
            raise OSError(errno.EACCES, "Permission denied")
