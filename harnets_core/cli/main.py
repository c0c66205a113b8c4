"""harnets: human activity recognition for industrial workcells (InHARD).

  harnets synth DIR                         a synthetic dataset in InHARD's real layout
  harnets train skeleton|rgb|pose --data DIR --out RUN
  harnets evaluate RUN/model.safetensors --data DIR
  harnets predict FILE.bvh|FILE.mp4 --model M
  harnets sweep --data DIR --out DIR        the HARNets grid (layers x batch x SA/LA)
  harnets info M                            what a model file says about itself
  harnets export M --onnx [--out M.onnx]    the model as ONNX (metadata included) for onnxruntime
  harnets bag from-inhard --data DIR --session S --out BAG
  harnets bag from-dataset --data DIR --session S --out BAG   InHARD's or your sessions layout
  harnets dataset from-bag BAG --labels labels.csv --out DIR   your recording -> the sessions layout
  harnets record --topics T... --out BAG     a rosbag2 without `ros2 bag` (needs ROS 2)
  harnets replay-eval BAG --model M [--live] [--backend torch|onnxruntime]
  harnets graph --skeleton-model M          the node graph without `ros2 launch` (needs ROS 2)
  harnets demo                              the whole job on the embedded synthetic default
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from harnets_core.cli import commands
from harnets_core.cli.plugins import EXPECTED_COMMANDS, ROS_HINT, discover_commands
from harnets_core.errors import HarnetsError

__all__ = ["main", "build_parser"]


# ----------------------------------------------------------------------------- arguments
_LAYOUTS = ("auto", "inhard-online", "inhard-segmented", "classes", "sessions", "online", "segmented")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", required=True, type=Path,
                   help="dataset root: InHARD's (Online/, Segmented/), or your own (<Class>/ clip folders, or recordings + labels.csv)")
    g.add_argument("--split", default="official",
                   help="'official' (InHARD's session split; your own data: train/+test/ folders, else group-fold:5:0), "
                        "'subject-fold:K:I', 'group-fold:K:I' (own data) or 'folders'")
    g.add_argument("--group-pattern", default=None,
                   help="classes layout: regex giving a clip's recording from its file stem (group 'group'; "
                        "default: the stem up to its last _ or -); no recording is on both sides of the split")
    g.add_argument("--classes", nargs="+", default=None, help="class names or ids to train on (default: all present)")
    g.add_argument("--class-limit", type=int, default=None, help="keep the N most frequent classes of the train sessions")
    g.add_argument("--scenario", default="all", choices=["all", "SA", "LA"], help="SA: segments shorter than --sa-threshold-s; LA: the others")
    g.add_argument("--sa-threshold-s", type=float, default=3.0, help="duration separating short (SA) from long (LA) activities")
    g.add_argument("--layout", default="auto", choices=list(_LAYOUTS),
                   help="inhard-online (online): one file per session (Online/Skeleton or Online/RGB) + Online/Labels; "
                        "inhard-segmented (segmented): one file per segment (SkletonSegmented or RGBSegmented) + "
                        "Segmented/Labels; classes: <Class>/*.bvh|*.mp4 (optionally under train/ and test/); "
                        "sessions: <session>.bvh|.mp4 + labels.csv (session,start_s,end_s,label[,subject]); "
                        "auto: your own layout when there is no Online/ or Segmented/, else online when Online/ "
                        "has every annotated session's file")


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
    g.add_argument("--members", type=int, default=1,
                   help="skeleton and pose: an ensemble of this many LSTMs in one model file, trained one after "
                        "another (seeds --seed, --seed + 1, ...), their probabilities averaged")


def _add_skeleton_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("skeleton window and features")
    g.add_argument("--window-frames", type=int, default=200, help="window length in BVH frames (HARNets: 150 or 200 at 120 Hz)")
    g.add_argument("--hop-s", type=float, default=0.25, help="seconds between windows (training and streaming)")
    g.add_argument("--rate-hz", type=float, default=30.0, help="feature rate the window is resampled to")
    g.add_argument("--features", nargs="+", default=None, help="feature kinds: rotations positions relative_positions velocities")
    g.add_argument("--joints", default=None,
                   help="'body' (every joint but the fingers, by name patterns that work across BVH exporters), "
                        "'all', or a comma-separated list of joint names")
    g.add_argument("--short-policy", default="pad", choices=["pad", "drop"], help="segments shorter than a window: edge-pad or drop")
    g.add_argument("--windows", default="stream", choices=["stream", "segments"],
                   help="training windows: over whole sessions labelled by their newest frame (stream), or inside annotated segments")
    g.add_argument("--train-hop-s", type=float, default=None,
                   help="seconds between training windows (default: --hop-s; the stream always uses --hop-s)")
    g.add_argument("--no-background", action="store_true", help="leave idle (No action, the unannotated time) out of the classes")
    g.add_argument("--min-fill-s", type=float, default=None,
                   help="stream windows: classify a stream's first windows once this many seconds are in, the first "
                        "frame repeated in front (trained the same way at each session's start); default: full windows only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harnets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic dataset in InHARD's real layout, or in your own (--layout)")
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration-s", type=float, default=60.0, help="length of each session")
    p.add_argument("--sessions", nargs="+", default=None,
                   help="session names (default: 6 official train + 3 validation sessions; own layouts: rec01..rec06)")
    p.add_argument("--classes", nargs="+", default=None,
                   help="meta-action names or ids (default: 6 classes, short and long); with --layout classes|sessions "
                        "your own names, comma-separated: \"Screw lid,Inspect part,Fetch part\"")
    p.add_argument("--layout", default="inhard", choices=["inhard", "classes", "sessions"],
                   help="classes: <Class>/<recording>_<n>.bvh; sessions: <recording>.bvh + labels.csv")
    p.add_argument("--skeleton", default="inhard", choices=["inhard", "cmu31"],
                   help="own layouts: InHARD's Axis Neuron hierarchy or a CMU-style 31-joint one (ZYX order)")
    p.add_argument("--split-folders", action="store_true", help="--layout classes: train/ and test/ folders")
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
        g.add_argument("--no-background", action="store_true",
                       help="leave idle (No action: the session videos' unannotated time) out of the classes")
        g.add_argument("--view", default=None, choices=["top", "left", "right", "full"],
                       help="mosaic quadrant (RGB-SP = top, RGB = side view) or the full frame; default: top on InHARD, "
                            "full (the whole frame of a single-view camera) on your own layouts")
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
    p.add_argument("--layout", default=None, choices=list(_LAYOUTS),
                   help="dataset layout to read (default: the one the model was trained from)")

    p = sub.add_parser("predict", help="class of a clip, or a timeline of a full session")
    p.add_argument("input", type=Path, help="a .bvh or a video")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--mode", default="auto", choices=["auto", "clip", "timeline"], help="auto: timeline when longer than 30 s")
    p.add_argument("--out", type=Path, default=None,
                   help="result file, the format by its extension (.csv or .json), or a folder (a path without "
                        "extension); default: ./<input stem>.timeline.csv (timelines; clips are only printed)")
    p.add_argument("--plot", type=Path, default=None,
                   help="timeline plot (.png, .pdf, .svg) or a folder; default: beside the timeline file")
    p.add_argument("--video-out", type=Path, default=None, help="video input: annotated output video (.mp4) or a folder")
    p.add_argument("--view", default=None, choices=["top", "left", "right", "skeleton", "full"],
                   help="video input: the view to read instead of the model's (pose models: any view; RGB models: "
                        "with a warning), e.g. full for a single camera")

    p = sub.add_parser("sweep", help="the HARNets grid: layers x batch size x scenario")
    p.add_argument("--out", type=Path, required=True)
    _add_data_args(p)
    p.add_argument("--modality", default="skeleton", choices=["skeleton", "rgb"],
                   help="skeleton (IMU rows) or rgb (CNN-LSTM; rows RGB-SP = top view, RGB = side view)")
    _add_skeleton_args(p)
    g = p.add_argument_group("video (--modality rgb)")
    g.add_argument("--view", default=None, choices=["top", "left", "right", "full"],
                   help="mosaic quadrant: top = RGB-SP, left/right = RGB; full = the whole frame (RGB-FULL); "
                        "default: top on InHARD, full on your own layouts (single cameras)")
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

    p = sub.add_parser("export", help="export a model file for deployment (ONNX, run by onnxruntime)")
    p.add_argument("model", type=Path, help="model file (.safetensors)")
    p.add_argument("--onnx", action="store_true", required=True, help="write ONNX (the one export format)")
    p.add_argument("--out", type=Path, default=None, help="default: beside the model, suffix .onnx")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 12)")

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
    pb = bsub.add_parser("from-dataset", help="one recording of InHARD (online) or of your sessions layout as a rosbag2; "
                                             "the ground truth carries the dataset's own class names")
    pb.add_argument("--data", type=Path, required=True, help="dataset root (sessions layout, or InHARD's)")
    pb.add_argument("--session", required=True, help="recording name (sessions layout: <session>.bvh)")
    pb.add_argument("--out", type=Path, required=True, help="bag folder to create")
    pb.add_argument("--layout", default="auto", choices=["auto", "sessions", "inhard-online", "online"],
                    help="auto: as training detects it (a classes layout has no continuous recording to play)")
    pb.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    pb.add_argument("--images", default="raw", choices=["raw", "compressed", "none"],
                    help="camera topic: rgb8 Image, JPEG CompressedImage, or none (a session without video has none)")
    pb.add_argument("--start-s", type=float, default=0.0)
    pb.add_argument("--end-s", type=float, default=None)

    p = sub.add_parser("dataset", help="build your own dataset from workcell recordings")
    dsub = p.add_subparsers(dest="dataset_command", required=True)
    pd = dsub.add_parser("from-bag", help="a rosbag2 (SkeletonFrame and/or camera topics) -> one session of the sessions layout")
    pd.add_argument("bag", type=Path)
    pd.add_argument("--out", type=Path, required=True, help="dataset folder (sessions layout; several bags can share it)")
    pd.add_argument("--labels", type=Path, default=None, help="[session,]start_s,end_s,label[,subject] (seconds from the session start)")
    pd.add_argument("--session", default=None, help="session name (default: the bag's folder name)")
    pd.add_argument("--skeleton", type=Path, default=None, help="a BVH of your suit: its hierarchy (default: InHARD's, if it matches)")
    pd.add_argument("--skeleton-topic", default=None, help="default: the bag's one harnets/msg/SkeletonFrame topic")
    pd.add_argument("--camera-topic", default=None, help="default: the bag's one Image or CompressedImage topic")
    pd.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("replay-eval", help="score recognizers on a bag (offline, or live through the node graph)")
    p.add_argument("bag", type=Path)
    p.add_argument("--skeleton-model", type=Path, default=None)
    p.add_argument("--rgb-model", type=Path, default=None)
    p.add_argument("--pose-model", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--live", action="store_true", help="play the bag over DDS into the running node graph (needs ROS 2)")
    p.add_argument("--rate", type=float, default=1.0, help="live playback speed; 0: as fast as the nodes keep up")
    p.add_argument("--print-activities", action="store_true", help="live: print each Activity as it is published")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"],
                   help="what runs the models: torch, onnxruntime (the .onnx given, or the export beside the "
                        ".safetensors), auto (.onnx files on onnxruntime, models.backends.PREFERRED_BACKEND otherwise)")

    _add_plugins(sub)
    return parser


def _missing(name: str, why: str | None) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise HarnetsError(f"harnets {name} {ROS_HINT}" + (f" (loading it failed: {why})" if why else ""))
    return run


def _add_plugins(sub: argparse._SubParsersAction) -> None:
    """Subcommands of other packages (harnets_ros: graph, demo); the expected ones that no
    package provides answer with what to install."""
    found, broken = discover_commands()
    for command in found.values():
        p = sub.add_parser(command.name, help=command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command.run)
    for name, help_text in EXPECTED_COMMANDS.items():
        if name not in found:
            p = sub.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
            p.add_argument("rest", nargs="*")
            p.set_defaults(handler=_missing(name, broken.get(name)))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None) or commands.COMMANDS[args.command]
    try:
        return handler(args)
    except HarnetsError as err:
        print(f"harnets {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harnets {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
