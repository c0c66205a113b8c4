"""The core `harnets` commands: each reads its parsed arguments through cli.options and
calls the typed functions of the layers below. Heavy modules (torch, OpenCV) are imported
inside the commands, so `harnets --help` starts fast."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from harnets_core.cli import options as opt
from harnets_core.cli.plugins import load_replayer
from harnets_core.errors import ConfigError, HarnetsError

__all__ = ["COMMANDS"]


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    base = metrics.get("baselines", {})
    print(f"{title}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} on {metrics['n']} windows"
          + (f" (chance {base['chance_accuracy']:.3f}, majority {base['majority_accuracy']:.3f})" if base else ""))


def cmd_synth(args: argparse.Namespace) -> int:
    if args.layout != "inhard":
        from harnets_core.synth.layouts import DEFAULT_OWN_CLASSES, generate_own_dataset

        own = generate_own_dataset(args.out, layout=args.layout, classes=args.classes or DEFAULT_OWN_CLASSES,
                                   recordings=args.sessions, seed=args.seed, duration_s=args.duration_s,
                                   skeleton=args.skeleton, videos=not args.no_videos, split_folders=args.split_folders,
                                   overwrite=args.overwrite)
        print(f"wrote {own.n_files} files, {own.n_segments} segments of {len(own.recordings)} recordings "
              f"({args.layout} layout, classes {own.class_names}) to {args.out}")
        return 0
    if args.skeleton != "inhard" or args.split_folders:
        raise HarnetsError("--skeleton and --split-folders need --layout classes or sessions")
    from harnets_core.synth.sessions import generate_dataset

    classes = opt.class_list(args.classes)
    kwargs: dict[str, Any] = {"seed": args.seed, "duration_s": args.duration_s, "write_videos": not args.no_videos,
                              "write_segmented": not args.no_segmented, "overwrite": args.overwrite}
    if args.sessions:
        kwargs["sessions"] = args.sessions
    if classes:
        kwargs["classes"] = list(classes)
    summary = generate_dataset(args.out, **kwargs)
    print(f"wrote {summary.n_files} files, {summary.n_segments} segments of {len(summary.sessions)} sessions to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from harnets_core.runs.prepare import prepare_pose, prepare_rgb, prepare_skeleton
    from harnets_core.runs.train import train_run

    torch.manual_seed(args.seed)  # the model's initial weights (fit seeds the rest)
    selection = opt.data_options(args).select()
    model_options = opt.model_options(args)
    if args.modality == "skeleton":
        prepared = prepare_skeleton(selection, opt.skeleton_options(args), model_options)
    elif args.modality == "rgb":
        prepared = prepare_rgb(selection, opt.frame_options(args, "rgb", layout=selection.layout), model_options, args.cache)
    else:
        prepared = prepare_pose(selection, opt.frame_options(args, "pose", layout=selection.layout),
                                opt.extractor_settings(args), args.cache,
                                model_options=model_options)
    print(f"{args.modality}: {len(prepared.train)} train windows ({len(selection.train_sessions)} sessions), "
          f"{len(prepared.val)} validation windows ({len(selection.val_sessions)} sessions), "
          f"classes {prepared.meta['class_names']}")
    result, metrics = train_run(prepared, opt.train_config(args), args.out, resume=args.resume)
    members = prepared.meta.get("model_config", {}).get("members", 1)
    if members > 1:
        from harnets_core.models.modelfile import read_meta

        epochs = [m["best_epoch"] for m in read_meta(result.model_path).get("members")]
        print(f"ensemble of {members} LSTMs, best epochs {epochs}; model {result.model_path}")
    else:
        print(f"best epoch {result.best_epoch}; model {result.model_path}")
    _print_metrics("validation", metrics)
    print(f"report: {args.out / 'report'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from harnets_core.runs.evaluate import evaluate_run

    out = args.out or args.model.parent / "eval"
    metrics = evaluate_run(args.model, args.data, out, sessions=args.sessions, layout=args.layout)
    _print_metrics(f"{args.model}", metrics)
    print(f"report: {out}")
    return 0


def _print_clip(source: Path, class_names: list[str] | tuple[str, ...], probs: Any, n_windows: int) -> None:
    order = probs.argsort()[::-1]
    print(f"{source}: {class_names[order[0]]} ({probs[order[0]]:.3f}) over {n_windows} window(s)")
    for k in order:
        print(f"  {class_names[k]:<24} {probs[k]:.3f}")


def _paths(args: argparse.Namespace, timeline: bool) -> dict[str, Path | None]:
    """Where predict writes (checked before any work): never next to the input by default."""
    from harnets_core.runs.outputs import PLOT_FORMATS, TIMELINE_FORMATS, VIDEO_FORMATS, output_path

    stem = args.input.stem
    out = None
    if timeline or args.out is not None:
        out = output_path(args.out, f"{stem}.{'timeline' if timeline else 'clip'}.csv", TIMELINE_FORMATS, "--out")
    plot = None
    if timeline:
        plot = output_path(args.plot, f"{stem}.timeline.png", PLOT_FORMATS, "--plot") if args.plot is not None \
            else out.with_suffix(".png")
    elif args.plot is not None:
        raise ConfigError(f"--plot {args.plot}: a clip prediction has no timeline to plot (use --mode timeline)")
    video = None if args.video_out is None else output_path(args.video_out, f"{stem}.annotated.mp4", VIDEO_FORMATS,
                                                              "--video-out")
    return {"out": out, "plot": plot, "video": video}


def _write_timeline(args: argparse.Namespace, paths: dict[str, Path | None], predictions: list[Any],
                    result: Any = None) -> None:
    from harnets_core.runs.outputs import plot_timeline, write_timeline

    check = None if result is None or result.input_check is None else result.input_check.to_dict()
    person = result.window_person_fractions if result is not None and check and check["pose_frames"] else None
    out = write_timeline(predictions, paths["out"], input_check=check, person_fractions=person)
    plot = plot_timeline(predictions, paths["plot"], title=str(args.input.name))
    print(f"{len(predictions)} predictions; timeline {out.resolve()}; plot {plot.resolve()}")


def _print_input_check(result: Any) -> None:
    """The video's fit to the view and (pose) the person fraction; warnings on stderr."""
    check = result.input_check
    if check is None:
        return
    d = check.to_dict()
    parts = [f"view {result.view!r} of a {d['frame_hw'][1]}x{d['frame_hw'][0]} video"]
    if d["mosaic"] is not None:
        parts.append(f"{'a' if d['mosaic'] else 'not a'} 2x2 mosaic (seam score {d['seam_score']})")
    if d["person_fraction"] is not None:
        parts.append(f"a person in {d['person_fraction']:.0%} of {d['pose_frames']} sampled frames")
    print("input: " + "; ".join(parts))
    for warning in check.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_predict(args: argparse.Namespace) -> int:
    from harnets_core.models.modelfile import load_model, read_meta
    from harnets_core.runs.predict import AUTO_TIMELINE_S, predict_clip_probs, predict_timeline, predict_video

    meta = read_meta(args.model)
    if args.input.suffix.lower() == ".bvh":
        from harnets_core.formats.bvh import read_bvh

        if meta.modality != "skeleton":
            raise HarnetsError(f"{args.model}: a {meta.modality} model cannot read {args.input} (a BVH file)")
        if args.video_out is not None:
            raise ConfigError(f"--video-out needs a video input, not {args.input}")
        if args.view is not None:
            raise ConfigError(f"--view needs a video input and an rgb or pose model, not {args.input}")
        clip = read_bvh(args.input)
        mode = args.mode if args.mode != "auto" else ("timeline" if clip.n_frames * clip.frame_time_s > AUTO_TIMELINE_S else "clip")
        paths = _paths(args, mode == "timeline")
        if mode == "clip":
            probs, n = predict_clip_probs(load_model(args.model), clip)
            _print_clip(args.input, meta.class_names, probs, n)
            _write_clip(paths, meta.class_names, probs, n, None)
        else:
            _write_timeline(args, paths, predict_timeline(args.model, clip))
        return 0
    if meta.modality not in ("rgb", "pose"):
        raise ConfigError(f"{args.model}: a {meta.modality} model cannot read {args.input} (a video)")
    from harnets_core.formats.video import probe_video

    mode = args.mode
    if mode == "auto":
        mode = "timeline" if probe_video(args.input).duration_s > AUTO_TIMELINE_S else "clip"
    paths = _paths(args, mode == "timeline")
    result = predict_video(args.model, args.input, mode=mode, out_video=paths["video"], view=args.view)
    if result.mode == "clip":
        _print_clip(args.input, result.class_names, result.probabilities, result.n_windows)
        _write_clip(paths, result.class_names, result.probabilities, result.n_windows, result)
    else:
        _write_timeline(args, paths, result.predictions, result)
    _print_input_check(result)
    if result.out_video is not None:
        print(f"annotated video: {result.out_video.resolve()}")
    return 0


def _write_clip(paths: dict[str, Path | None], class_names: Any, probs: Any, n: int, result: Any) -> None:
    from harnets_core.runs.outputs import write_clip

    if paths["out"] is None:
        return
    check = None if result is None or result.input_check is None else result.input_check.to_dict()
    out = write_clip(list(class_names), probs, n, paths["out"], input_check=check)
    print(f"result: {out.resolve()}")


def cmd_info(args: argparse.Namespace) -> int:
    from harnets_core.models.backends import read_model_meta
    from harnets_core.models.modelfile import model_id

    meta = read_model_meta(args.model).to_dict()
    meta.pop("history", None)
    if meta.get("skeleton"):
        meta["skeleton"] = {k: (v if k in ("signature", "frame_time_s") else f"<{len(v)} items>") for k, v in meta["skeleton"].items()
                            if k != "hierarchy_bvh"}
    print(f"model_id: {model_id(args.model)}")
    print(json.dumps(meta, indent=2, default=str))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from harnets_core.models.export import export_onnx

    if args.opset < 12:
        raise ConfigError(f"--opset {args.opset}: harnets models need opset >= 12")
    result = export_onnx(args.model, args.out, opset=args.opset)
    print(f"wrote {result.path} ({result.model_type}, {result.size_bytes / 1e6:.2f} MB, exported from {result.source_id}); "
          f"onnxruntime vs torch on random inputs: max abs probability difference {result.max_abs_prob_diff:.2e}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from harnets_core.runs.sweep import SweepGrid, run_sweep

    grid = SweepGrid(scenarios=tuple(args.scenarios), layers=tuple(args.layers_grid), batch_sizes=tuple(args.batch_sizes),
                     epochs=args.epochs, patience=args.patience, seed=args.seed, device=args.device)
    data = opt.data_options(args)
    rgb = None
    if args.modality == "rgb":
        from harnets_core.datasets.layouts import canonical_layout
        from harnets_core.datasets.selection import detect_layout

        layout = detect_layout(data.root, "rgb") if data.layout == "auto" else canonical_layout(data.layout)
        rgb = opt.frame_options(args, "rgb", command="sweep", layout=layout)
    table = run_sweep(data, grid, args.out, skeleton=opt.skeleton_options(args), rgb=rgb, cache_dir=args.cache)
    print(table)
    return 0
def cmd_bag(args: argparse.Namespace) -> int:
    if args.bag_command == "from-dataset":
        from harnets_core.evaluation.dataset_bag import bag_from_dataset

        counts = bag_from_dataset(args.data, args.session, args.out, layout=args.layout, storage=args.storage,
                                  images=args.images, start_s=args.start_s, end_s=args.end_s)
    else:
        from harnets_core.evaluation.replay import bag_from_inhard

        counts = bag_from_inhard(args.data, args.session, args.out, storage=args.storage, images=args.images,
                                 start_s=args.start_s, end_s=args.end_s)
    print(f"wrote {args.out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from harnets_core.datasets.from_bag import dataset_from_bag

    s = dataset_from_bag(args.bag, args.out, labels=args.labels, session=args.session, skeleton_bvh=args.skeleton,
                         skeleton_topic=args.skeleton_topic, camera_topic=args.camera_topic, overwrite=args.overwrite)
    written = [f"{p} ({n} frames)" for p, n in ((s.bvh, s.n_skeleton_frames), (s.video, s.n_video_frames)) if p]
    print(f"session {s.session}: wrote " + ", ".join(written)
          + (f"; {s.n_labels} label rows into {args.out / 'labels.csv'}" if args.labels else "; no labels (add rows to labels.csv)")
          + (f" ({s.n_labels_other_sessions} rows of other sessions left out)" if s.n_labels_other_sessions else ""))
    for note in s.notes:
        print(f"note: {note}")
    return 0


def cmd_replay_eval(args: argparse.Namespace) -> int:
    models = {k: v for k, v in (("skeleton", args.skeleton_model), ("rgb", args.rgb_model), ("pose", args.pose_model)) if v}
    if not models:
        raise HarnetsError("replay-eval needs at least one of --skeleton-model, --rgb-model, --pose-model")
    if args.live:
        replay_live = load_replayer("live")  # harnets_ros, through its entry point
        metrics = replay_live(args.bag, models, args.out, rate=args.rate, print_activities=args.print_activities,
                              backend=args.backend)
    else:
        from harnets_core.evaluation.replay import replay_offline

        metrics = replay_offline(args.bag, models, args.out, backend=args.backend)
    from harnets_core.evaluation.replay import print_headline

    print_headline(metrics, args.out)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "synth": cmd_synth, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info, "export": cmd_export,
    "sweep": cmd_sweep, "bag": cmd_bag, "dataset": cmd_dataset, "replay-eval": cmd_replay_eval,
}
