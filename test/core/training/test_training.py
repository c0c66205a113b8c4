"""training.fit: learning, best checkpoint, history, resume, DDP on the CPU (gloo)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from harnets_core.errors import ConfigError
from harnets_core.models.modelfile import load_model
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.training.average import WeightAverage
from harnets_core.training.loop import (
    ArrayDataset,
    TrainConfig,

    class_weights,
    dataset_labels,
    fit,
    read_history,
)

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[3]
CLASSES = ["reach", "pick", "place"]


def make_data(n: int, seed: int, t: int = 6, d: int = 4, k: int = 3):
    """Trivially separable windows: class c adds +2 to feature c in every frame."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    X = rng.normal(0.0, 0.3, size=(n, t, d)).astype(np.float32)
    X[np.arange(n), :, y] += 2.0
    return ArrayDataset(X, y)


def make_model(seed: int = 0, dropout: float = 0.0) -> LSTMClassifier:
    torch.manual_seed(seed)
    return LSTMClassifier(LSTMConfig(input_dim=4, num_classes=3, hidden_size=16, num_layers=1, dropout=dropout))


META = {"model_type": "skeleton_lstm", "class_names": CLASSES, "modality": "skeleton", "window": {"length": 6, "hop": 3, "rate_hz": 30.0}}


def strip_time(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


def test_fit_learns_separable_problem_and_writes_files(tmp_path):
    train, val = make_data(64, 1), make_data(30, 2)
    cfg = TrainConfig(epochs=8, batch_size=8, lr=1e-2, patience=0, progress=False)
    model = make_model()
    result = fit(model, train, val, cfg, tmp_path, META)
    assert result.best_metrics["val_accuracy"] >= 0.9
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert set(result.history[0]) == {"epoch", "train_loss", "train_accuracy", "train_macro_f1", "val_loss", "val_accuracy", "val_macro_f1", "lr", "time_s"}
    assert result.history[-1]["train_macro_f1"] >= 0.9
    assert len(result.history) == 8 and result.model_path == tmp_path / "model.safetensors"
    assert (tmp_path / "last.ckpt.safetensors").is_file()
    assert read_history(tmp_path) == result.history
    loaded = load_model(result.model_path)
    assert loaded.meta.class_names == CLASSES
    assert loaded.meta.metrics["epoch"] == result.best_epoch
    assert len(loaded.meta["history"]) == 8
    assert loaded.meta.train_config["lr"] == 1e-2
    assert loaded.meta.window["length"] == 6
    # the file holds the best epoch's weights, and fit returns the model with them
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(val.X), model(val.X))


def test_early_stopping(tmp_path):
    train, val = make_data(16, 5), make_data(9, 6)
    cfg = TrainConfig(epochs=50, lr=1e-6, patience=2, progress=False, monitor="val_accuracy")
    result = fit(make_model(), train, val, cfg, tmp_path, META)
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 2 < 50


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_matches_uninterrupted_run(tmp_path, ema_decay):
    train, val = make_data(40, 7), make_data(12, 8)
    cfg = TrainConfig(epochs=6, batch_size=8, lr=5e-3, patience=0, progress=False, ema_decay=ema_decay)
    full = fit(make_model(dropout=0.2), train, val, cfg, tmp_path / "full", META)

    def interrupt(epoch, record):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(make_model(dropout=0.2), train, val, cfg, tmp_path / "split", META, on_epoch=interrupt)
    assert len(read_history(tmp_path / "split")) == 3
    torch.manual_seed(123)  # a different global RNG state and fresh init must not matter
    resumed = fit(make_model(seed=99, dropout=0.2), train, val, cfg, tmp_path / "split", META, resume=True)

    assert strip_time(resumed.history) == strip_time(full.history)
    assert resumed.best_epoch == full.best_epoch
    for name in ("model.safetensors", "last.ckpt.safetensors"):
        with safe_open(tmp_path / "full" / name, "pt") as a, safe_open(tmp_path / "split" / name, "pt") as b:
            assert sorted(a.keys()) == sorted(b.keys())
            for key in a.keys():
                if not key.startswith("rng."):
                    assert torch.equal(a.get_tensor(key), b.get_tensor(key)), key


def test_weight_average_follows_the_live_weights_with_warm_up():
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
        model.bias.fill_(0.0)
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average.update()  # step 0: d = min(0.9, 1 / 10) = 0.1
    assert torch.allclose(average.state["weight"], torch.full((1, 2), 0.9))
    average.update()  # step 1: d = min(0.9, 2 / 11)
    d = 2 / 11
    assert torch.allclose(average.state["weight"], torch.full((1, 2), d * 0.9 + (1 - d)))
    with average.applied():
        assert torch.allclose(model.weight, average.state["weight"])
    assert torch.equal(model.weight, torch.ones(1, 2))  # the live weights are back


def test_fit_with_ema_validates_and_saves_the_average(tmp_path):
    """The saved model is the one that was validated: the average, not the last live weights."""
    train, val = make_data(48, 11), make_data(24, 12)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=1e-2, patience=0, progress=False, ema_decay=0.9)
    model = make_model()
    result = fit(model, train, val, cfg, tmp_path, META)
    loaded = load_model(tmp_path / "model.safetensors")
    with torch.no_grad():
        acc = float((loaded.model(val.X).argmax(-1) == val.y).float().mean())
    assert acc == pytest.approx(result.best_metrics["val_accuracy"])
    with safe_open(tmp_path / "last.ckpt.safetensors", "pt") as ckpt:
        live, averaged = ckpt.get_tensor("model.head.weight"), ckpt.get_tensor("average.head.weight")
    assert not torch.equal(live, averaged)
    if result.best_epoch == cfg.epochs:  # the best is the last epoch: the saved model is its average
        assert torch.equal(loaded.model.state_dict()["head.weight"], averaged)
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_resume_rejects_changed_config(tmp_path):
    train, val = make_data(16, 9), make_data(6, 10)
    fit(make_model(), train, val, TrainConfig(epochs=1, progress=False), tmp_path, META)
    with pytest.raises(ConfigError, match="lr"):
        fit(make_model(), train, val, TrainConfig(epochs=2, lr=0.5, progress=False), tmp_path, META, resume=True)


def test_train_config_rejects_unknown_and_bad_values():
    assert TrainConfig.from_dict(TrainConfig(epochs=3).to_dict()).epochs == 3
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ConfigError):
        TrainConfig(device="gpu")
    with pytest.raises(ConfigError):
        TrainConfig(class_weighting="inverse")


def test_class_weights_balanced():
    labels = np.array([0, 0, 0, 1])
    w = class_weights(labels, 3)
    assert torch.allclose(w, torch.tensor([4 / 9, 4 / 3, 1.0]))
    assert torch.equal(class_weights(labels, 3, "none"), torch.ones(3))
    assert dataset_labels(torch.utils.data.Subset(ArrayDataset(np.zeros((4, 1)), labels), [3, 0])).tolist() == [1, 0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DDP_CFG = dict(epochs=3, batch_size=8, lr=5e-3, patience=0, progress=False, device="cpu")


def _ddp_worker(rank: int, port: int, out_dir: str) -> None:
    """Child process: the environment torchrun would set, then a plain fit call."""
    code = 1
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                          RANK=str(rank), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
        torch.set_num_threads(1)
        fit(make_model(), make_data(40, 11), make_data(10, 12), TrainConfig(**DDP_CFG), out_dir, META)
        code = 0
    finally:
        os._exit(code)


def _check_ddp_matches_single(tmp_path: Path, ddp_dir: Path) -> None:
    single = fit(make_model(), make_data(40, 11), make_data(10, 12), TrainConfig(**DDP_CFG), tmp_path / "single", META)
    ddp = read_history(ddp_dir)
    assert json.loads((ddp_dir / "history.json").read_text())["world_size"] == 2
    assert json.loads((tmp_path / "single" / "history.json").read_text())["world_size"] == 1
    assert len(ddp) == 3
    for a, b in zip(single.history, ddp):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
        for key in ("train_accuracy", "train_macro_f1", "val_accuracy", "val_macro_f1"):
            assert b[key] == a[key], key
    ddp_model = load_model(ddp_dir / "model.safetensors").model
    for (name, p), q in zip(load_model(single.model_path).model.named_parameters(), ddp_model.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_ddp_two_cpu_processes_match_single_process(tmp_path):
    """2 forked gloo processes (WORLD_SIZE=2, as under torchrun) reproduce the single-process run.

    Same global batch 8 (4 per process), same seed, no dropout. Forking skips the interpreter
    start-up, so this takes about 2 s; test_ddp_torchrun runs the real launcher (slow, opt-in).
    """
    ctx = torch.multiprocessing.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(rank, port, str(tmp_path / "ddp"))) for rank in range(2)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    print(f"ddp run took {time.perf_counter() - t0:.1f} s")
    assert [p.exitcode for p in procs] == [0, 0]
    _check_ddp_matches_single(tmp_path, tmp_path / "ddp")


TORCHRUN_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {here!r})
    from test_training import DDP_CFG, META, make_data, make_model
    from harnets_core.training.loop import TrainConfig, fit
    fit(make_model(), make_data(40, 11), make_data(10, 12), TrainConfig(**DDP_CFG), {out!r}, META)
    """
)


@pytest.mark.skipif(os.environ.get("HARNETS_TORCHRUN_TEST") != "1", reason="slow (~15 s on 2 cores); set HARNETS_TORCHRUN_TEST=1")
def test_ddp_torchrun(tmp_path):
    """The real launcher: python -m torch.distributed.run --nproc_per_node 2 (gloo on the CPU)."""
    script = tmp_path / "ddp_train.py"
    script.write_text(TORCHRUN_SCRIPT.format(here=str(Path(__file__).parent), out=str(tmp_path / "ddp")))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_ddp_matches_single(tmp_path, tmp_path / "ddp")
