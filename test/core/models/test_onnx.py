"""ONNX export and the onnxruntime backend: every model type exported from a real model file
gives the same probabilities as torch (max abs difference <= 1e-5) on the same windows,
through the same streaming recognizers; the metadata travels with the file; bad files and
stale exports are typed errors naming the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.features.keypoints import extractor_from_settings
from harnets_core.features.pipeline import FramePipeline
from harnets_core.formats.bvh import read_bvh
from harnets_core.models import CNNLSTM, CNNLSTMConfig, LSTMClassifier, LSTMConfig
from harnets_core.models.backends import choose_backend, read_model_meta
from harnets_core.models.export import default_onnx_path, export_onnx
from harnets_core.models.modelfile import read_meta, save_model
from harnets_core.models.onnxfile import load_onnx, read_onnx_meta, select_providers
from harnets_core.streaming.recognizer import load_recognizer
from tiny_openpose import write_tiny_openpose

PARITY = 1e-5  # max abs probability difference, torch vs onnxruntime
CAMERA_HW = (64, 96)


def _lstm_meta(modality: str, model_type: str, config: LSTMConfig, preprocessing: dict, window: dict, **extra) -> dict:
    return {"model_type": model_type, "model_config": config.to_dict(), "modality": modality,
            "class_names": ["a", "b", "c"], "class_ids": [0, 1, 2], "preprocessing": preprocessing, "window": window,
            **extra}


@pytest.fixture(scope="module")
def skeleton_model(tmp_path_factory, real_clip_path) -> Path:
    """A 2-layer bidirectional skeleton LSTM for the real 59-joint skeleton (the ONNX LSTM op's
    direction and layer order must match torch's h_n)."""
    from harnets_core.features.pipeline import SkeletonPipeline, skeleton_meta
    from harnets_core.features.skeleton import FeatureConfig, Normalizer

    torch.manual_seed(1)
    clip = read_bvh(real_clip_path)
    window_s = 60 * clip.frame_time_s
    pipe = SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(), window_s, 30.0)
    pipe.normalizer = Normalizer.fit(pipe.raw_window_features(clip.motion[None, : pipe.raw_length]))
    config = LSTMConfig(input_dim=pipe.dim, num_classes=3, hidden_size=16, num_layers=2, bidirectional=True)
    meta = _lstm_meta("skeleton", "skeleton_lstm", config, pipe.to_meta(),
                      {"window_s": window_s, "hop_s": 0.1, "rate_hz": 30.0, "length": pipe.length},
                      skeleton=skeleton_meta(clip.skeleton, clip.frame_time_s))
    return save_model(tmp_path_factory.mktemp("onnx") / "skeleton.safetensors", LSTMClassifier(config), meta)


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory) -> Path:
    """A tiny CNN-LSTM (temporal differences, mean head): 24x40 frames, 5 frames a window at 5 Hz."""
    torch.manual_seed(2)
    pipe = FramePipeline(kind="rgb", view="full", size_hw=(24, 40), rate_hz=5.0, window_s=1.0)
    config = CNNLSTMConfig(num_classes=3, height=24, width=40, encoder_config={"channels": [8, 16], "grid_hw": [2, 3]},
                           feature_dim=16, hidden_size=8, temporal_diff=True)
    meta = {"model_type": "cnn_lstm", "modality": "rgb", "class_names": ["a", "b", "c"], "class_ids": [0, 1, 2],
            "preprocessing": pipe.to_meta(), "window": {"window_s": 1.0, "hop_s": 0.2, "rate_hz": 5.0, "length": 5}}
    return save_model(tmp_path_factory.mktemp("onnx") / "rgb.safetensors", CNNLSTM(config), meta)


@pytest.fixture(scope="module")
def pose_model(tmp_path_factory) -> Path:
    """A pose LSTM over the keypoints of a tiny genuine OpenPose-MPI network (test/tiny_openpose.py)."""
    d = tmp_path_factory.mktemp("onnx_pose")
    proto, caffemodel = write_tiny_openpose(d, legacy_input=True, stem="pose_deploy_mpi")
    settings = {"name": "openpose", "prototxt": str(proto), "caffemodel": str(caffemodel), "variant": "MPI"}
    names = extractor_from_settings(settings).names
    torch.manual_seed(3)
    config = LSTMConfig(input_dim=len(names) * 3, num_classes=3, hidden_size=8)
    pre = {"kind": "pose", "view": "full", "size_hw": list(CAMERA_HW), "settings": settings, "normalizer": None,
           "keypoint_names": list(names), "keypoint_center": "hips"}
    meta = _lstm_meta("pose", "pose_lstm", config, pre, {"window_s": 0.8, "hop_s": 0.4, "rate_hz": 5.0, "length": 4})
    return save_model(d / "pose.safetensors", LSTMClassifier(config), meta)


@pytest.fixture(scope="module")
def exported(skeleton_model, rgb_model, pose_model) -> dict[str, Path]:
    """Each model exported once, beside its model file."""
    out = {}
    for name, path in (("skeleton", skeleton_model), ("rgb", rgb_model), ("pose", pose_model)):
        result = export_onnx(path)
        assert result.path == default_onnx_path(path) == path.with_suffix(".onnx")
        assert result.max_abs_prob_diff <= PARITY
        out[name] = result.path
    return out


def _stream(rec, samples, stamps_ns) -> list:
    return [p for s, t in zip(samples, stamps_ns) if (p := rec.push(s, int(t))) is not None]


def _compare(torch_preds: list, onnx_preds: list, n_min: int) -> None:
    assert len(torch_preds) == len(onnx_preds) >= n_min
    for a, b in zip(torch_preds, onnx_preds):
        assert (a.stamp_ns, a.window_start_ns, a.class_names) == (b.stamp_ns, b.window_start_ns, b.class_names)
    pa = np.stack([p.probabilities for p in torch_preds])
    pb = np.stack([p.probabilities for p in onnx_preds])
    assert np.abs(pa - pb).max() <= PARITY
    assert not np.allclose(pa, pa[:1], atol=1e-4), "the windows should differ, or the comparison proves little"


def test_skeleton_parity_through_the_streaming_recognizer(skeleton_model, exported, real_clip_path):
    clip = read_bvh(real_clip_path)
    stamps = np.round(np.arange(clip.n_frames) * clip.frame_time_s * 1e9)
    reference = load_recognizer(skeleton_model, backend="torch", hop_s=0.1)
    runner = load_recognizer(exported["skeleton"], hop_s=0.1, providers="cpu")
    assert (reference.backend, runner.backend) == ("torch", "onnxruntime")
    assert runner.providers == ("CPUExecutionProvider",)
    frames = clip.motion.astype(np.float32)
    _compare(_stream(reference, frames, stamps), _stream(runner, frames, stamps), n_min=10)


def test_rgb_parity_with_cached_frame_features(rgb_model, exported):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(*CAMERA_HW, 3), dtype=np.uint8) for _ in range(30)]
    stamps = np.arange(30) * 100_000_000  # 10 fps camera, the model takes 5 Hz
    reference = load_recognizer(rgb_model, backend="torch")
    runner = load_recognizer(rgb_model, backend="onnxruntime", threads=1)  # the export beside the model file
    assert runner.model_id.startswith("rgb.onnx@") and set(runner.model.sessions) == {"frames", "features"}
    _compare(_stream(reference, frames, stamps), _stream(runner, frames, stamps), n_min=8)


def test_pose_parity(pose_model, exported):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, size=(*CAMERA_HW, 3), dtype=np.uint8) for _ in range(24)]
    stamps = np.arange(24) * 200_000_000
    reference = load_recognizer(pose_model, backend="torch")
    runner = load_recognizer(exported["pose"], backend="onnxruntime")
    _compare(_stream(reference, frames, stamps), _stream(runner, frames, stamps), n_min=8)


@pytest.mark.parametrize("layers,bidirectional,members", [(1, False, 1), (3, False, 1), (2, True, 1), (2, False, 3)])
def test_dynamic_batch_and_lstm_layout(tmp_path, layers, bidirectional, members):
    """Batch-first input, any batch size, the last layer's state of each direction; an
    ensemble's mean probabilities."""
    torch.manual_seed(layers)
    config = LSTMConfig(input_dim=7, num_classes=4, hidden_size=5, num_layers=layers, bidirectional=bidirectional,
                        members=members)
    model = LSTMClassifier(config).eval()
    meta = {"model_type": "skeleton_lstm", "model_config": config.to_dict(), "class_names": list("abcd"),
            "window": {"window_s": 1.0, "hop_s": 0.5, "rate_hz": 6.0}}
    path = export_onnx(save_model(tmp_path / "m.safetensors", model, meta)).path
    onnx_model = load_onnx(path).model
    for batch in (1, 2, 5):
        x = torch.randn(batch, 6, 7)
        with torch.no_grad():
            want = torch.softmax(model(x), -1).numpy()
        got = torch.softmax(onnx_model(x), -1).numpy()
        assert got.shape == (batch, 4)
        assert np.abs(want - got).max() <= PARITY


def test_metadata_round_trip(skeleton_model, rgb_model, pose_model, exported):
    for name, source in (("skeleton", skeleton_model), ("rgb", rgb_model), ("pose", pose_model)):
        meta = read_onnx_meta(exported[name])
        assert meta == read_meta(source)  # class names, preprocessing, window, skeleton: all of it
        assert meta.source == str(exported[name])
        assert read_model_meta(exported[name]) == meta
        assert load_recognizer(exported[name]).class_names == tuple(meta.class_names)


def test_corrupt_and_foreign_onnx_files_are_typed_errors(exported, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(exported["skeleton"].read_bytes()[:5000])
    with pytest.raises(ModelFileError, match=r"truncated\.onnx is corrupt or not an ONNX model"):
        load_recognizer(truncated)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\x00 not a protobuf at all \x01\x02" * 10)
    with pytest.raises(ModelFileError, match=r"garbage\.onnx"):
        load_onnx(garbage)
    # a valid ONNX model that harnets did not write
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])), foreign)
    with pytest.raises(ModelFileError, match=r"foreign\.onnx is not a harnets model"):
        read_onnx_meta(foreign)
    with pytest.raises(ModelFileError, match=r"missing\.onnx not found"):
        load_recognizer(tmp_path / "missing.onnx")


def test_backend_choice_and_stale_exports(skeleton_model, exported, tmp_path):
    assert choose_backend(exported["skeleton"]).backend == "onnxruntime"
    assert choose_backend(skeleton_model, "torch").backend == "torch"
    assert choose_backend(skeleton_model, "onnxruntime").path == exported["skeleton"]
    with pytest.raises(ConfigError, match="backend torch cannot run the ONNX file"):
        choose_backend(exported["skeleton"], "torch")
    with pytest.raises(ConfigError, match="use one of auto, torch, onnxruntime"):
        choose_backend(skeleton_model, "tensorrt")
    # a model file without an export beside it, and one whose export is from another file
    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes(skeleton_model.read_bytes())
    with pytest.raises(ModelFileError, match=r"no ONNX export .*lonely\.onnx.*harnets export"):
        load_recognizer(lonely, backend="onnxruntime")
    (tmp_path / "lonely.onnx").write_bytes(exported["pose"].read_bytes())
    with pytest.raises(ModelFileError, match=r"was exported from pose\.safetensors@.*export it again"):
        load_recognizer(lonely, backend="onnxruntime")


def test_providers():
    chosen, explicit = select_providers("auto")
    assert chosen[-1] == "CPUExecutionProvider" and not explicit
    assert select_providers("cpu") == (["CPUExecutionProvider"], True)
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert chosen == ["CPUExecutionProvider"]
        with pytest.raises(ConfigError, match="CUDAExecutionProvider.*not available"):
            select_providers("cuda,cpu")


def test_export_command_and_info(rgb_model, tmp_path, capsys):
    from harnets_core.cli.main import main

    out = tmp_path / "deploy" / "rgb_for_robot.onnx"
    assert main(["export", str(rgb_model), "--onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (cnn_lstm" in printed and "max abs probability difference" in printed
    assert read_onnx_meta(out) == read_meta(rgb_model)
    assert main(["info", str(out)]) == 0
    assert '"model_type": "cnn_lstm"' in capsys.readouterr().out
    assert main(["export", str(rgb_model), "--onnx", "--opset", "11"]) == 2
    assert "opset >= 12" in capsys.readouterr().err


def test_auto_runs_the_fresh_export_beside_a_model_file_else_torch(skeleton_model, exported, tmp_path):
    """auto: onnxruntime (measured faster) where an up-to-date export lies beside the file."""
    choice = choose_backend(skeleton_model)
    assert (choice.backend, choice.path) == ("onnxruntime", exported["skeleton"])
    assert load_recognizer(skeleton_model).backend == "onnxruntime"
    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes(skeleton_model.read_bytes())
    assert choose_backend(lonely).backend == "torch"  # no export: torch, nothing to complain about
    (tmp_path / "lonely.onnx").write_bytes(exported["pose"].read_bytes())
    stale = choose_backend(lonely)
    assert stale.backend == "torch" and "export it again" in stale.reason
