"""Fixtures shared by the core and ROS tests: the real InHARD clip, a small synthetic
dataset in InHARD's layout, and model files built or trained on them."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
REAL_CLIP = DATA / "P01_R01_0026.48_0028.80.bvh"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def real_clip_path() -> Path:
    """One REAL segmented InHARD skeleton clip (Assemble system, P01_R01, 26.48-28.80 s)."""
    assert REAL_CLIP.exists(), f"{REAL_CLIP} missing"
    return REAL_CLIP


@pytest.fixture(scope="session", autouse=True)
def torch_threads():
    """Tests run torch on one thread: small models, and 2 cores shared with node processes."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """4 sessions (3 official train, 1 validation) of 40 s, skeleton only."""
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, seed=3, sessions=["P01_R01", "P03_R01", "P04_R02", "P01_R02"], duration_s=40.0,
                     write_videos=False)
    return root


def build_skeleton_model(path: Path, clip_path: Path = REAL_CLIP, *, classes=("Consult sheets", "Assemble system"),
                         class_ids=(1, 11), window_frames: int = 60, hop_s: float = 0.1, seed: int = 0,
                         timeline: dict | None = None) -> Path:
    """An untrained (random-weight) skeleton LSTM model file for the real 59-joint skeleton,
    normalizer fitted on the real clip: a real model file for plumbing tests."""
    import torch

    from harnets_core.formats.bvh import read_bvh
    from harnets_core.features.skeleton import FeatureConfig, Normalizer
    from harnets_core.models.modelfile import save_model
    from harnets_core.models import LSTMClassifier, LSTMConfig
    from harnets_core.features.pipeline import SkeletonPipeline, skeleton_meta

    torch.manual_seed(seed)
    clip = read_bvh(clip_path)
    window_s = window_frames * clip.frame_time_s
    pipeline = SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(), window_s, 30.0)
    raw = clip.motion[None, : pipeline.raw_length]
    pipeline.normalizer = Normalizer.fit(pipeline.raw_window_features(raw))
    config = LSTMConfig(input_dim=pipeline.dim, num_classes=len(classes), hidden_size=16, num_layers=1)
    meta = {
        "model_type": "skeleton_lstm",
        "model_config": config.to_dict(),
        "modality": "skeleton",
        "class_names": list(classes),
        "class_ids": list(class_ids),
        "preprocessing": pipeline.to_meta(),
        "window": {"window_s": window_s, "hop_s": hop_s, "rate_hz": 30.0, "length": pipeline.length},
        "skeleton": skeleton_meta(clip.skeleton, clip.frame_time_s),
    }
    if timeline is not None:  # segmentation filter + forecaster (harnets_core.streaming.segmentation)
        meta["timeline"] = timeline
    return save_model(path, LSTMClassifier(config), meta)


@pytest.fixture(scope="session")
def untrained_skeleton_model(tmp_path_factory) -> Path:
    return build_skeleton_model(tmp_path_factory.mktemp("models") / "skeleton_untrained.safetensors")


@pytest.fixture(scope="session")
def forecasting_skeleton_model(tmp_path_factory) -> Path:
    """An untrained skeleton model with idle as a class and a segmentation filter + forecaster
    learned from a hand-made label sequence (Consult 3 s, Assemble 5 s, idle 1 s, repeated)."""
    from harnets_core.datasets.stream_windows import SessionRun
    from harnets_core.streaming.segmentation import fit_timeline_meta

    runs, t = [], 0.0
    for cid, dur in [(1, 3.0), (11, 5.0), (0, 1.0)] * 4:
        runs.append(SessionRun("S", cid, t, dur))
        t += dur
    return build_skeleton_model(tmp_path_factory.mktemp("models") / "forecasting.safetensors",
                                classes=("No action", "Consult sheets", "Assemble system"), class_ids=(0, 1, 11),
                                timeline=fit_timeline_meta(runs, [0, 1, 11], 0.1))


@pytest.fixture(scope="session")
def trained_skeleton_run(synth_root, tmp_path_factory, torch_threads) -> Path:
    """A skeleton model trained (a few epochs) on the synthetic dataset; returns its run folder."""
    import torch

    from harnets_core.datasets.selection import select_data
    from harnets_core.runs.options import ModelOptions, SkeletonOptions
    from harnets_core.runs.prepare import prepare_skeleton
    from harnets_core.runs.train import train_run
    from harnets_core.training.loop import TrainConfig

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("skeleton_run")
    selection = select_data(synth_root, classes=["Consult sheets", "Picking left", "Assemble system"])
    prepared = prepare_skeleton(selection, SkeletonOptions(hop_s=0.5), ModelOptions(hidden_size=32, num_layers=1, dropout=0.0))
    train_run(prepared, TrainConfig(epochs=12, batch_size=16, lr=3e-3, patience=0, progress=False, device="cpu"), out)
    return out


def finite_probabilities(p) -> bool:
    p = np.asarray(p, dtype=np.float64)
    return bool(np.isfinite(p).all() and abs(p.sum() - 1.0) < 1e-4 and (p >= 0).all())
