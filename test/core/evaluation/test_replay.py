"""Session bags and offline replay evaluation with the streaming recognizers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harnets_core.formats.bags import bag_topics
from harnets_core.formats.session_bag import write_session_bag
from harnets_core.formats.bvh import read_bvh
from harnets_core.cli.main import main
from harnets_core.datasets.inhard import InhardLayout
from harnets_core.errors import BagError, ModelFileError
from harnets_core.evaluation.replay import BAG_START_NS, bag_from_inhard, ground_truth_from_bag, replay_offline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session_bag(synth_root: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bags") / "P01_R02"
    counts = bag_from_inhard(synth_root, "P01_R02", out, images="none")
    assert counts["/harnets/skeleton"] > 4000 and counts["/harnets/ground_truth"] > 300
    return out


def test_bag_has_skeleton_and_ground_truth_on_one_clock(session_bag: Path):
    topics = bag_topics(session_bag)
    assert topics["/harnets/skeleton"].msgtype == "harnets/msg/SkeletonFrame"
    assert topics["/harnets/ground_truth"].msgtype == "harnets/msg/Activity"


def test_offline_replay_scores_the_streaming_recognizer(session_bag: Path, trained_skeleton_run: Path, tmp_path: Path):
    metrics = replay_offline(session_bag, {"skeleton": trained_skeleton_run / "model.safetensors"}, tmp_path)
    skel = metrics["sources"]["skeleton"]
    assert skel["n_predictions"] >= 70  # one per 0.5 s hop over 40 s
    # the skeleton model knows 3 of the session's classes: clearly better than chance over
    # the whole annotated timeline (other classes count as errors)
    assert skel["frame"]["accuracy"] > 0.3
    for name in ("report.md", "metrics.json", "timeline.png", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    report = (tmp_path / "report.md").read_text()
    assert "skeleton" in report and "F1@0.5" in report.replace("F1@50", "F1@0.5") or "F1" in report


def test_offline_replay_is_deterministic(session_bag: Path, trained_skeleton_run: Path, tmp_path: Path):
    model = {"skeleton": trained_skeleton_run / "model.safetensors"}
    a = replay_offline(session_bag, model, tmp_path / "a")
    b = replay_offline(session_bag, model, tmp_path / "b")
    assert json.loads((tmp_path / "a" / "summary.json").read_text()) == json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["sources"]["skeleton"]["n_predictions"] == b["sources"]["skeleton"]["n_predictions"]


def test_replay_eval_command_and_errors(session_bag: Path, trained_skeleton_run: Path, tmp_path: Path, capsys):
    model = str(trained_skeleton_run / "model.safetensors")
    assert main(["replay-eval", str(session_bag), "--skeleton-model", model, "--out", str(tmp_path / "r")]) == 0
    assert "skeleton" in capsys.readouterr().out
    with pytest.raises(ModelFileError, match="'rgb' model"):
        replay_offline(session_bag, {"rgb": trained_skeleton_run / "model.safetensors"}, tmp_path / "x")
    assert main(["replay-eval", str(tmp_path / "missing_bag"), "--skeleton-model", model, "--out", str(tmp_path / "y")]) == 2


def test_offline_fusion_forecasts_on_the_fused_timeline():
    from types import SimpleNamespace

    import numpy as np

    from harnets_core.datasets.stream_windows import SessionRun
    from harnets_core.evaluation.replay import fuse_offline
    from harnets_core.streaming.forecast import Forecaster, fit_forecast

    runs = [SessionRun("S", cid, 3.0 * n + (2.0 if cid == 2 else 0.0), 2.0 if cid == 1 else 1.0)
            for n in range(6) for cid in (1, 2)]
    names, ids = ("idle", "A", "B"), (0, 1, 2)

    def pred(t_s, probs):
        return SimpleNamespace(stamp_ns=int(t_s * 1e9), window_start_ns=0, class_names=names, class_ids=ids,
                               probabilities=np.array(probs, dtype=np.float32))

    streams = {"skeleton": [pred(1.0, [0.1, 0.8, 0.1]), pred(2.0, [0.1, 0.2, 0.7])],
               "rgb": [pred(1.5, [0.1, 0.7, 0.2]), pred(2.5, [0.0, 0.1, 0.9])]}
    plain = fuse_offline(streams)
    assert all(p.forecast is None for p in plain)
    fused = fuse_offline(streams, forecaster=Forecaster(fit_forecast(runs, list(ids))))
    assert [p.forecast.current_id for p in fused] == [p.class_id for p in fused]
    assert fused[-1].class_id == 2 and fused[-1].forecast.next_ids[0] == 1  # B, then A


def test_ground_truth_from_bag_is_the_annotation(session_bag: Path, synth_root: Path):
    """The labels both replays score against: the session's annotated segments, in session time."""
    labels = ground_truth_from_bag(session_bag)
    assert [l.stamp_s for l in labels] == sorted(l.stamp_s for l in labels)
    assert labels[0].stamp_s == 0.0 and labels[1].stamp_s == pytest.approx(0.1)  # 10 Hz from the start
    layout = InhardLayout(synth_root)
    frame_time_s = read_bvh(layout.session_bvh("P01_R02")).frame_time_s
    segments = [s for s in layout.annotations("online") if s.session == "P01_R02"]
    assert len(segments) >= 5

    def label_at(t_s: float) -> int:
        return [l for l in labels if l.stamp_s <= t_s + 1e-9][-1].class_id

    for seg in segments:
        start_s, end_s = seg.bvh_start_frame * frame_time_s, (seg.bvh_end_frame + 1) * frame_time_s
        assert label_at(start_s) == label_at((start_s + end_s) / 2) == seg.class_id, seg


def test_a_bag_without_ground_truth_fails_before_the_replay(tmp_path: Path, real_clip_path: Path):
    bag = tmp_path / "no_gt"
    write_session_bag(bag, clip=read_bvh(real_clip_path), start_time_ns=BAG_START_NS, end_s=0.5, class_names=["Assemble system"])
    with pytest.raises(BagError, match=r"no_gt: no ground-truth Activity messages \(source 'ground_truth'\)"):
        ground_truth_from_bag(bag)
    # before any model is run: a model file that does not exist is never opened
    with pytest.raises(BagError, match="no ground-truth"):
        replay_offline(bag, {"skeleton": tmp_path / "never_read.safetensors"}, tmp_path / "out")


def test_replay_eval_backend_onnxruntime_scores_as_torch(session_bag: Path, trained_skeleton_run: Path, tmp_path: Path, capsys):
    from harnets_core.models.export import export_onnx

    model = trained_skeleton_run / "model.safetensors"
    onnx_model = export_onnx(model, tmp_path / "model.onnx").path  # not beside the model: other tests keep torch
    for backend, path in (("torch", model), ("onnxruntime", onnx_model)):
        assert main(["replay-eval", str(session_bag), "--skeleton-model", str(path), "--backend", backend,
                     "--out", str(tmp_path / backend)]) == 0
    capsys.readouterr()
    torch_summary = json.loads((tmp_path / "torch" / "summary.json").read_text())
    onnx_summary = json.loads((tmp_path / "onnxruntime" / "summary.json").read_text())
    assert onnx_summary == torch_summary and torch_summary
    assert main(["replay-eval", str(session_bag), "--skeleton-model", str(onnx_model), "--backend", "torch",
                 "--out", str(tmp_path / "x")]) == 2
    assert "backend torch cannot run the ONNX file" in capsys.readouterr().err
