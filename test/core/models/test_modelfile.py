"""modelfile: round trip, metadata, corrupt files, no pickle, skeleton check, model_id."""
from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from harnets_core.models import modelfile
from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.models.modelfile import (
    FORMAT_VERSION,
    ModelMeta,
    check_skeleton,
    load_model,
    model_id,
    read_meta,
    save_model,
)
from harnets_core.models import CNNLSTM, CNNLSTMConfig, LSTMClassifier, LSTMConfig

torch.set_num_threads(1)
CLASSES = ["Assemble system", "Consult sheets", "No action"]
JOINTS = ["Hips", "Spine", "Head"]
CHANNELS = [f"{j}.{c}" for j in JOINTS for c in ("Zrotation", "Xrotation", "Yrotation")]


def lstm_meta(**kw):
    meta = {
        "model_type": "skeleton_lstm",
        "class_names": CLASSES,
        "class_ids": [0, 1, 13],
        "modality": "skeleton",
        "preprocessing": {"features": {"kinds": ["rotations"], "resample_hz": 30.0}, "normalizer": {"mean": [0.0] * 9, "std": [1.0] * 9}},
        "window": {"length": 10, "hop": 5, "rate_hz": 30.0},
        "skeleton": {"joint_names": JOINTS, "channel_names": CHANNELS, "signature": "abc123"},
        "train_config": {"epochs": 3},
        "metrics": {"val_accuracy": 0.5},
    }
    meta.update(kw)
    return meta


@pytest.fixture
def lstm_file(tmp_path):
    torch.manual_seed(0)
    model = LSTMClassifier(LSTMConfig(input_dim=9, num_classes=3, hidden_size=8, bidirectional=True)).eval()
    path = tmp_path / "skeleton.safetensors"
    save_model(path, model, lstm_meta())
    return path, model


def test_round_trip_identical_logits_and_meta(lstm_file):
    path, model = lstm_file
    loaded = load_model(path)
    x = torch.randn(2, 10, 9)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    assert not loaded.model.training
    meta = loaded.meta
    assert isinstance(meta, ModelMeta)
    assert meta.format_version == FORMAT_VERSION
    assert meta.model_type == "skeleton_lstm" and meta["model_type"] == "skeleton_lstm"
    assert meta.model_config == model.config.to_dict()  # filled in from model.config
    assert meta.class_names == CLASSES and meta.class_ids == [0, 1, 13]
    assert meta.window == {"length": 10, "hop": 5, "rate_hz": 30.0}
    assert meta.preprocessing["normalizer"]["std"] == [1.0] * 9
    assert meta.skeleton["signature"] == "abc123"
    assert meta.source == str(path)
    assert read_meta(path) == meta
    model2, meta2 = load_model(path)  # unpacks like a tuple
    assert meta2 == meta


def test_cnn_lstm_round_trip_and_extra_keys(tmp_path):
    torch.manual_seed(0)
    model = CNNLSTM(CNNLSTMConfig(num_classes=2, height=16, width=24, encoder_config={"channels": [4, 8]}, feature_dim=6, hidden_size=4))
    model.train()(torch.rand(2, 2, 3, 16, 24))  # move BatchNorm running stats away from init
    model.eval()
    path = tmp_path / "rgb.safetensors"
    save_model(path, model, {"model_type": "cnn_lstm", "class_names": ["a", "b"], "modality": "rgb", "history": [{"epoch": 1}]})
    loaded = load_model(path)
    frames = torch.randint(0, 256, (1, 4, 3, 16, 24), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(loaded.model(frames), model(frames))
    assert loaded.meta["history"] == [{"epoch": 1}]
    assert loaded.meta.skeleton is None
    check_skeleton(loaded.meta, ["Any"], ["Any.Xposition"])  # RGB models have no skeleton to check


def test_loading_never_unpickles(lstm_file, monkeypatch):
    path, model = lstm_file

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling is forbidden")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    loaded = load_model(path)
    x = torch.randn(1, 4, 9)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="nope.safetensors not found"):
        load_model(tmp_path / "nope.safetensors")


def test_truncated_file(lstm_file):
    path, _ = lstm_file
    data = path.read_bytes()
    for size in (len(data) - 7, 200, 5, 0):
        path.write_bytes(data[:size])
        with pytest.raises(ModelFileError, match=str(path.name)):
            load_model(path)


def test_flipped_header_bytes(lstm_file):
    path, _ = lstm_file
    data = bytearray(path.read_bytes())
    broken = bytearray(data)
    broken[10:20] = b"\xff" * 10  # inside the JSON header
    path.write_bytes(bytes(broken))
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(path)
    broken = bytearray(data)
    broken[0:8] = struct.pack("<Q", 2**40)  # absurd header length
    path.write_bytes(bytes(broken))
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_model(path)


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)  # a pickle-based file
    with pytest.raises(ModelFileError, match="model.pt"):
        load_model(path)


def test_missing_metadata_bad_version_unknown_type_and_mismatched_weights(lstm_file, tmp_path):
    path, model = lstm_file
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ModelFileError, match="without harnets metadata"):
        load_model(plain)

    def rewrite(name, meta_changes=None, tensors=None):
        meta = read_meta(path).to_dict()
        meta.update(meta_changes or {})
        out = tmp_path / name
        weights = tensors if tensors is not None else {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(out), metadata={"harnets": json.dumps(meta)})
        return out

    with pytest.raises(ModelFileError, match="format_version 99"):
        load_model(rewrite("v99.safetensors", {"format_version": 99}))
    with pytest.raises(ModelFileError, match="unknown model_type 'gru'"):
        load_model(rewrite("gru.safetensors", {"model_type": "gru"}))
    with pytest.raises(ModelFileError, match="cannot build"):
        load_model(rewrite("badcfg.safetensors", {"model_config": {"input_dim": 9, "num_classes": 3, "layers": 2}}))
    # malformed values the config classes do not type themselves (issue 15 item 5): still a ModelFileError
    for name, change in [("hidden.safetensors", {"hidden_size": "abc"}), ("dropout.safetensors", {"dropout": "x"})]:
        config = {**read_meta(path).model_config, **change}
        with pytest.raises(ModelFileError, match=f"{name}.*cannot build skeleton_lstm.*ValueError"):
            load_model(rewrite(name, {"model_config": config}))
    other = LSTMClassifier(LSTMConfig(input_dim=5, num_classes=3, hidden_size=8, bidirectional=True)).state_dict()
    with pytest.raises(ModelFileError, match="weights do not match"):
        load_model(rewrite("shape.safetensors", tensors=other))
    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    with pytest.raises(ModelFileError, match="missing.*head"):
        load_model(rewrite("partial.safetensors", tensors=partial))


def test_save_rejects_bad_meta(tmp_path):
    model = LSTMClassifier(LSTMConfig(input_dim=9, num_classes=3))
    with pytest.raises(ConfigError, match="model_type"):
        save_model(tmp_path / "m.safetensors", model, {"class_names": CLASSES})
    with pytest.raises(ConfigError, match="3 classes"):
        save_model(tmp_path / "m.safetensors", model, {"model_type": "pose_lstm", "class_names": ["a", "b"]})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_save_is_atomic_on_failure(lstm_file, monkeypatch):
    path, model = lstm_file
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(modelfile.os, "replace", boom)
    with pytest.raises(OSError):
        save_model(path, model, lstm_meta(metrics={"val_accuracy": 0.9}))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # temp file cleaned up


def test_check_skeleton(lstm_file):
    path, _ = lstm_file
    meta = load_model(path).meta
    check_skeleton(meta, JOINTS, CHANNELS)
    with pytest.raises(ModelFileError, match=r"skeleton.safetensors.*trained for a skeleton of 3 joints.*index 1: expected 'Spine', got 'Chest'"):
        check_skeleton(meta, ["Hips", "Chest", "Head"], CHANNELS)
    with pytest.raises(ModelFileError, match="channels"):
        check_skeleton(meta, JOINTS, CHANNELS[:-1])


def test_model_id(lstm_file):
    path, model = lstm_file
    mid = model_id(path)
    name, digest = mid.split("@")
    assert name == "skeleton.safetensors" and len(digest) == 12 and int(digest, 16) >= 0
    assert model_id(path) == mid
    save_model(path, model, lstm_meta(metrics={"val_accuracy": 0.75}))
    assert model_id(path) != mid
