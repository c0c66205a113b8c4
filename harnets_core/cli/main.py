"""harnets: human activity recognition for industrial workcells (InHARD).

  harnets synth DIR                         a synthetic dataset in InHARD's real layout
  harnets train skeleton|rgb|pose --data DIR --out RUN
  harnets evaluate RUN/model.safetensors --data DIR
  harnets predict FILE.bvh|FILE.mp4 --model M
  harnets sweep --data DIR --out DIR        the HARNets grid (layers x batch x SA/LA)
  harnets info M                            what a model file says about itself
  harnets bag from-inhard --data DIR --session S --out BAG
  harnets replay-eval BAG --model M [--live]
  harnets graph --skeleton-model M          the node graph without `ros2 launch` (needs ROS 2)
  harnets demo                              the whole job on the embedded synthetic default
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harnets_core.errors import HarnetsError

__all__ = ["main", "build_parser"]


# ----------------------------------------------------------------------------- arguments
def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", required=True, type=Path, help="dataset root in InHARD's layout (Online/, Segmented/)")
    g.add_argument("--split", default="official", help="'official' (InHARD's session split) or 'subject-fold:K:I'")
    g.add_argument("--classes", nargs="+", default=None, help="class names or ids to train on (default: all present)")
    g.add_argument("--class-limit", type=int, default=None, help="keep the N most frequent classes of the train sessions")
    g.add_argument("--scenario", default="all", choices=["all", "SA", "LA"], help="SA: segments shorter than --sa-threshold-s; LA: the others")
    g.add_argument("--sa-threshold-s", type=float, default=3.0, help="duration separating short (SA) from long (LA) activities")
    g.add_argument("--layout", default="auto", choices=["auto", "online", "segmented"],
                   help="online: one file per session (Online/Skeleton or Online/RGB) + Online/Labels; segmented: "
                        "one file per segment (SkletonSegmented or RGBSegmented) + Segmented/Labels; "
                        "auto: online when Online/ has every annotated session's file")


def _add_train_args(p: argparse.ArgumentParser, epochs: int = 300) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs, help="maximum epochs (early stopping with --patience)")
    g.add_argument("--batch-size", type=int, default=8, help="global batch size (HARNets: 4, 8, 16)")
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--patience", type=int, default=30, help="epochs without improvement before stopping; 0: never")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    g.add_argument("--monitor", default="val_macro_f1", choices=["val_macro_f1", "val_accuracy"])
    g.add_argument("--class-weighting", default="balanced", choices=["balanced", "none"])
    g.add_argument("--ema-decay", type=float, default=0.0,
                   help="> 0: validate and keep a moving average of the weights (e.g. 0.98); 0: off")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    g = p.add_argument_group("model")
    g.add_argument("--hidden-size", type=int, default=64)
    g.add_argument("--layers", type=int, default=2, choices=[1, 2, 3], help="hidden LSTM layers")
    g.add_argument("--dropout", type=float, default=0.2)


def _add_skeleton_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("skeleton window and features")
    g.add_argument("--window-frames", type=int, default=200, help="window length in BVH frames (HARNets: 150 or 200 at 120 Hz)")
    g.add_argument("--hop-s", type=float, default=0.25, help="seconds between windows (training and streaming)")
    g.add_argument("--rate-hz", type=float, default=30.0, help="feature rate the window is resampled to")
    g.add_argument("--features", nargs="+", default=None, help="feature kinds: rotations positions relative_positions velocities")
    g.add_argument("--joints", default=None, help="'body' (no fingers) or 'all'")
    g.add_argument("--short-policy", default="pad", choices=["pad", "drop"], help="segments shorter than a window: edge-pad or drop")
    g.add_argument("--windows", default="stream", choices=["stream", "segments"],
                   help="training windows: over whole sessions labelled by their newest frame (stream), or inside annotated segments")
    g.add_argument("--train-hop-s", type=float, default=None,
                   help="seconds between training windows (default: --hop-s; the stream always uses --hop-s)")
    g.add_argument("--no-background", action="store_true", help="leave idle (No action, the unannotated time) out of the classes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harnets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic dataset in InHARD's real layout")
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration-s", type=float, default=60.0, help="length of each session")
    p.add_argument("--sessions", nargs="+", default=None, help="session names (default: 6 official train + 3 validation sessions)")
    p.add_argument("--classes", nargs="+", default=None, help="meta-action names or ids (default: 6 classes, short and long)")
    p.add_argument("--no-videos", action="store_true", help="skeleton only (no mosaic videos)")
    p.add_argument("--no-segmented", action="store_true", help="no Segmented/ copy")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("train", help="train a model; writes OUT/model.safetensors and OUT/report/")
    tsub = p.add_subparsers(dest="modality", required=True)
    ps = tsub.add_parser("skeleton", help="LSTM over BVH skeleton features")
    ps.add_argument("--out", type=Path, required=True)
    _add_data_args(ps)
    _add_skeleton_args(ps)
    _add_train_args(ps)
    for name, helptext in (("rgb", "CNN-LSTM over one camera view"), ("pose", "LSTM over 2D pose keypoints")):
        pr = tsub.add_parser(name, help=helptext)
        pr.add_argument("--out", type=Path, required=True)
        _add_data_args(pr)
        _add_train_args(pr, epochs=300)
        g = pr.add_argument_group("video")
        g.add_argument("--view", default="top", choices=["top", "left", "right", "full"], help="mosaic quadrant (RGB-SP = top, RGB = side view)")
        g.add_argument("--height", type=int, default=None)
        g.add_argument("--width", type=int, default=None)
        g.add_argument("--rate-hz", type=float, default=None, help="frames per second taken from the video")
        g.add_argument("--window-s", type=float, default=None)
        g.add_argument("--sequence-length", type=int, default=None, help="frames per window (sets the window with --rate-hz)")
        g.add_argument("--hop-s", type=float, default=None)
        g.add_argument("--cache", type=Path, default=None, help="decoded-frame cache folder (default: DATA/.harnets_cache)")
        if name == "rgb":
            g.add_argument("--encoder", default="small", help="per-frame CNN encoder: small (CPU) or wide (GPU)")
            g.add_argument("--temporal-diff", action=argparse.BooleanOptionalAction, default=None,
                           help="the LSTM also sees each frame feature's change from the previous frame (default: on)")
            g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                           help="random shift, scale, rotation and brightness of each training window (default: on)")
        else:
            g.add_argument("--extractor", default="blazepose", choices=["blazepose", "openpose"])
            g.add_argument("--openpose-prototxt", type=Path, default=None)
            g.add_argument("--openpose-model", type=Path, default=None)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class report, confusion matrix")
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None, help="report folder (default: next to the model, eval/)")
    p.add_argument("--sessions", nargs="+", default=None, help="sessions to evaluate (default: the model's validation sessions)")
    p.add_argument("--layout", default=None, choices=["auto", "online", "segmented"],
                   help="dataset layout to read (default: the one the model was trained from)")

    p = sub.add_parser("predict", help="class of a clip, or a timeline of a full session")
    p.add_argument("input", type=Path, help="a .bvh or a video")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--mode", default="auto", choices=["auto", "clip", "timeline"], help="auto: timeline when longer than 30 s")
    p.add_argument("--out", type=Path, default=None, help="timeline file (.csv or .json)")
    p.add_argument("--plot", type=Path, default=None, help="timeline plot (.png)")
    p.add_argument("--video-out", type=Path, default=None, help="video input: annotated output video")

    p = sub.add_parser("sweep", help="the HARNets grid: layers x batch size x scenario")
    p.add_argument("--out", type=Path, required=True)
    _add_data_args(p)
    p.add_argument("--modality", default="skeleton", choices=["skeleton", "rgb"],
                   help="skeleton (IMU rows) or rgb (CNN-LSTM; rows RGB-SP = top view, RGB = side view)")
    _add_skeleton_args(p)
    g = p.add_argument_group("video (--modality rgb)")
    g.add_argument("--view", default="top", choices=["top", "left", "right"], help="mosaic quadrant: top = RGB-SP, left/right = RGB")
    g.add_argument("--height", type=int, default=None)
    g.add_argument("--width", type=int, default=None)
    g.add_argument("--video-rate-hz", type=float, default=None, help="frames per second taken from the video")
    g.add_argument("--window-s", type=float, default=None)
    g.add_argument("--sequence-length", type=int, default=None, help="frames per window (sets the window with --video-rate-hz)")
    g.add_argument("--video-hop-s", type=float, default=None, help="seconds between video windows")
    g.add_argument("--encoder", default="small", help="per-frame CNN encoder: small (CPU) or wide (GPU)")
    g.add_argument("--cache", type=Path, default=None, help="decoded-frame cache folder (default: DATA/.harnets_cache)")
    p.add_argument("--layers-grid", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--scenarios", nargs="+", default=["SA", "LA"])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")

    p = sub.add_parser("info", help="print a model file's metadata")
    p.add_argument("model", type=Path)

    p = sub.add_parser("bag", help="rosbag2 tools")
    bsub = p.add_subparsers(dest="bag_command", required=True)
    pb = bsub.add_parser("from-inhard", help="one InHARD session as a rosbag2 (skeleton, camera, ground truth)")
    pb.add_argument("--data", type=Path, required=True)
    pb.add_argument("--session", required=True)
    pb.add_argument("--out", type=Path, required=True)
    pb.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    pb.add_argument("--images", default="raw", choices=["raw", "compressed", "none"])
    pb.add_argument("--start-s", type=float, default=0.0)
    pb.add_argument("--end-s", type=float, default=None)

    p = sub.add_parser("replay-eval", help="score recognizers on a bag (offline, or live through the node graph)")
    p.add_argument("bag", type=Path)
    p.add_argument("--skeleton-model", type=Path, default=None)
    p.add_argument("--rgb-model", type=Path, default=None)
    p.add_argument("--pose-model", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--live", action="store_true", help="play the bag over DDS into the running node graph (needs ROS 2)")
    p.add_argument("--rate", type=float, default=1.0, help="live playback speed; 0: as fast as the nodes keep up")
    p.add_argument("--print-activities", action="store_true", help="live: print each Activity as it is published")

    p = sub.add_parser("graph", help="start the node graph without ros2 launch (needs ROS 2)")
    p.add_argument("--config", type=Path, default=None, help="parameter file (default: the installed config/harnets.yaml)")
    p.add_argument("--skeleton-model", type=Path, default=None)
    p.add_argument("--rgb-model", type=Path, default=None)
    p.add_argument("--pose-model", type=Path, default=None)
    p.add_argument("--namespace", default="")
    p.add_argument("--use-sim-time", action="store_true")
    p.add_argument("--bvh", type=Path, default=None, help="also stream this BVH file (skeleton streamer)")
    p.add_argument("--video", type=Path, default=None, help="also stream this video (video streamer)")
    p.add_argument("--loop", action="store_true", help="stream --bvh / --video in a loop")
    p.add_argument("--print-activities", action="store_true")
    p.add_argument("--duration-s", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")

    p = sub.add_parser("demo", help="synthetic data -> train -> bag -> live replay -> report")
    p.add_argument("--out", type=Path, default=Path("demo_out"))
    p.add_argument("--skeleton-epochs", type=int, default=40)
    p.add_argument("--rgb-epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    return parser


# ----------------------------------------------------------------------------- commands
def _train_config(args: argparse.Namespace) -> Any:
    from harnets_core.training.loop import TrainConfig

    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        patience=args.patience, seed=args.seed, device=args.device, monitor=args.monitor,
        class_weighting=args.class_weighting, progress=not args.no_progress, ema_decay=args.ema_decay,
    )


def _selection(args: argparse.Namespace) -> Any:
    from harnets_core.datasets.selection import select_data

    classes = None if args.classes is None else [int(c) if str(c).isdigit() else c for c in args.classes]
    return select_data(args.data, split=args.split, classes=classes, class_limit=args.class_limit,
                       scenario=args.scenario, threshold_s=args.sa_threshold_s, layout=getattr(args, "layout", "auto"),
                       modality=getattr(args, "modality", "skeleton"))


def _skeleton_options(args: argparse.Namespace) -> Any:
    from harnets_core.features.skeleton import FeatureConfig
    from harnets_core.datasets.inhard import BVH_FRAME_TIME_S
    from harnets_core.runs.skeleton import SkeletonOptions

    feats = FeatureConfig()
    overrides = {}
    if args.features:
        overrides["kinds"] = tuple(args.features)
    if args.joints:
        overrides["joints"] = args.joints
    if overrides:
        feats = FeatureConfig.from_dict({**feats.to_dict(), **overrides})
    return SkeletonOptions(window_s=args.window_frames * BVH_FRAME_TIME_S, hop_s=args.hop_s, rate_hz=args.rate_hz,
                           features=feats, short_policy=args.short_policy,
                           windows=getattr(args, "windows", "stream"), background=not getattr(args, "no_background", False),
                           train_hop_s=getattr(args, "train_hop_s", None))


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    base = metrics.get("baselines", {})
    print(f"{title}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} on {metrics['n']} windows"
          + (f" (chance {base['chance_accuracy']:.3f}, majority {base['majority_accuracy']:.3f})" if base else ""))


def cmd_synth(args: argparse.Namespace) -> int:
    from harnets_core.synth.sessions import generate_dataset

    classes = None if args.classes is None else [int(c) if str(c).isdigit() else c for c in args.classes]
    kwargs: dict[str, Any] = {"seed": args.seed, "duration_s": args.duration_s, "write_videos": not args.no_videos,
                              "write_segmented": not args.no_segmented, "overwrite": args.overwrite}
    if args.sessions:
        kwargs["sessions"] = args.sessions
    if classes:
        kwargs["classes"] = classes
    summary = generate_dataset(args.out, **kwargs)
    print(f"wrote {summary.n_files} files, {summary.n_segments} segments of {len(summary.sessions)} sessions to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from harnets_core.runs.skeleton import ModelOptions, train_run

    torch.manual_seed(args.seed)  # the model's initial weights (fit seeds the rest)
    selection = _selection(args)
    model_options = ModelOptions(hidden_size=args.hidden_size, num_layers=args.layers, dropout=args.dropout)
    if args.modality == "skeleton":
        from harnets_core.runs.skeleton import prepare_skeleton

        prepared = prepare_skeleton(selection, _skeleton_options(args), model_options)
    else:
        from harnets_core.runs import frames

        prepared = frames.prepare_from_args(args, selection, model_options)
    print(f"{args.modality}: {len(prepared.train)} train windows ({len(selection.train_sessions)} sessions), "
          f"{len(prepared.val)} validation windows ({len(selection.val_sessions)} sessions), "
          f"classes {selection.class_names}")
    result, metrics = train_run(prepared, _train_config(args), args.out, resume=args.resume)
    print(f"best epoch {result.best_epoch}; model {result.model_path}")
    _print_metrics("validation", metrics)
    print(f"report: {args.out / 'report'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from harnets_core.runs.skeleton import evaluate_run

    out = args.out or args.model.parent / "eval"
    metrics = evaluate_run(args.model, args.data, out, sessions=args.sessions, layout=args.layout)
    _print_metrics(f"{args.model}", metrics)
    print(f"report: {out}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from harnets_core.models.modelfile import load_model, read_meta

    meta = read_meta(args.model)
    if args.input.suffix.lower() == ".bvh":
        from harnets_core.formats.bvh import read_bvh
        from harnets_core.runs.skeleton import plot_timeline, predict_clip_probs, predict_timeline, write_timeline

        if meta.modality != "skeleton":
            raise HarnetsError(f"{args.model}: a {meta.modality} model cannot read {args.input} (a BVH file)")
        clip = read_bvh(args.input)
        mode = args.mode if args.mode != "auto" else ("timeline" if clip.n_frames * clip.frame_time_s > 30 else "clip")
        if mode == "clip":
            probs, n = predict_clip_probs(load_model(args.model), clip)
            order = probs.argsort()[::-1]
            print(f"{args.input}: {meta.class_names[order[0]]} ({probs[order[0]]:.3f}) over {n} window(s)")
            for k in order:
                print(f"  {meta.class_names[k]:<24} {probs[k]:.3f}")
            return 0
        predictions = predict_timeline(args.model, clip)
        out = write_timeline(predictions, args.out or args.input.with_suffix(".timeline.csv"))
        plot = plot_timeline(predictions, args.plot or out.with_suffix(".png"), title=str(args.input.name))
        print(f"{len(predictions)} predictions; timeline {out}; plot {plot}")
        return 0
    from harnets_core.runs import frames

    return frames.predict_command(args, meta)


def cmd_info(args: argparse.Namespace) -> int:
    from harnets_core.models.modelfile import model_id, read_meta

    meta = read_meta(args.model).to_dict()
    meta.pop("history", None)
    if meta.get("skeleton"):
        meta["skeleton"] = {k: (v if k in ("signature", "frame_time_s") else f"<{len(v)} items>") for k, v in meta["skeleton"].items()
                            if k != "hierarchy_bvh"}
    print(f"model_id: {model_id(args.model)}")
    print(json.dumps(meta, indent=2, default=str))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from harnets_core.runs.sweep import run_sweep

    table = run_sweep(args)
    print(table)
    return 0


def cmd_bag(args: argparse.Namespace) -> int:
    from harnets_core.evaluation.replay import bag_from_inhard

    counts = bag_from_inhard(args.data, args.session, args.out, storage=args.storage, images=args.images,
                             start_s=args.start_s, end_s=args.end_s)
    print(f"wrote {args.out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0


def cmd_replay_eval(args: argparse.Namespace) -> int:
    models = {k: v for k, v in (("skeleton", args.skeleton_model), ("rgb", args.rgb_model), ("pose", args.pose_model)) if v}
    if not models:
        raise HarnetsError("replay-eval needs at least one of --skeleton-model, --rgb-model, --pose-model")
    if args.live:
        try:
            from harnets_ros.live_replay import replay_live
        except ImportError as err:
            raise HarnetsError(f"--live needs ROS 2 (rclpy and the built harnets package): {err}") from err
        metrics = replay_live(args.bag, models, args.out, rate=args.rate, print_activities=args.print_activities)
    else:
        from harnets_core.evaluation.replay import replay_offline

        metrics = replay_offline(args.bag, models, args.out)
    from harnets_core.evaluation.replay import print_headline

    print_headline(metrics, args.out)
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    try:
        from harnets_ros.graph import run_graph
    except ImportError as err:
        raise HarnetsError(f"harnets graph needs ROS 2 (rclpy and the built harnets package): {err}") from err
    return run_graph(args)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from harnets_ros.demo import run_demo
    except ImportError as err:
        raise HarnetsError(f"harnets demo needs ROS 2 (rclpy and the built harnets package; `make demo`): {err}") from err
    return run_demo(args)


COMMANDS = {
    "synth": cmd_synth, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info,
    "sweep": cmd_sweep, "bag": cmd_bag, "replay-eval": cmd_replay_eval, "graph": cmd_graph, "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except HarnetsError as err:
        print(f"harnets {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harnets {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
