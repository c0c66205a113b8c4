"""A rosbag2 recorded on your workcell -> one session of the ``sessions`` layout.

``harnets dataset from-bag BAG --out DIR [--labels labels.csv] [--session NAME]`` reads the
bag as ``ros2 bag record`` (or ``harnets record``) wrote it (sqlite3 or mcap) and writes

- ``DIR/<session>.bvh`` from the ``harnets/msg/SkeletonFrame`` topic: one MOTION line per
  message, the hierarchy from ``--skeleton FILE.bvh`` (a BVH exported from your suit once:
  the messages carry joint names and channels, not bone offsets) or, when the stream's joints
  and channels are InHARD's, the bundled Axis Neuron hierarchy;
- ``DIR/<session>.mp4`` from the camera topic (``sensor_msgs/Image`` raw, or
  ``CompressedImage``), at the rate of its header stamps;
- rows of ``DIR/labels.csv`` from ``--labels`` (``[session,]start_s,end_s,label[,subject]``,
  seconds from the session's start; rows of other sessions are left out and counted).

Both files start at the same instant (the later of the two streams' first header stamps) and
end at the earlier last one, so a label's seconds mean the same frame in both. A frame
missing from a stream (a gap longer than 1.5 periods in its stamps) is filled by repeating
the previous one, so time stays true; the fills are counted in the summary. A skeleton
message whose joints or channels differ from the first one, an undecodable image, or a
frame size change is a BagError naming the topic and the stamp.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harnets_core.datasets.inhard import skeleton_template
from harnets_core.errors import BagError, ConfigError, DatasetError
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.bags import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE, SKELETON_FRAME_TYPE, bag_topics, read_bag
from harnets_core.formats.messages import image_to_numpy

__all__ = ["FromBagSummary", "dataset_from_bag"]

_NS = 1_000_000_000


@dataclass
class FromBagSummary:
    """What :func:`dataset_from_bag` wrote."""

    session: str
    bvh: Path | None = None
    video: Path | None = None
    n_skeleton_frames: int = 0
    n_video_frames: int = 0
    filled_skeleton: int = 0
    filled_video: int = 0
    n_labels: int = 0
    n_labels_other_sessions: int = 0
    notes: list[str] = field(default_factory=list)


def _stamp_ns(msg: Any, log_ns: int) -> int:
    stamp = getattr(getattr(msg, "header", None), "stamp", None)
    if stamp is None:
        return log_ns
    ns = int(stamp.sec) * _NS + int(stamp.nanosec)
    return ns if ns > 0 else log_ns


def _pick(topics: dict[str, Any], types: tuple[str, ...], given: str | None, what: str, bag: Path) -> str | None:
    if given is not None:
        if given not in topics:
            raise BagError(f"{bag}: topic {given} not in bag (has {sorted(topics)})")
        if topics[given].msgtype not in types:
            raise BagError(f"{bag}: topic {given} is {topics[given].msgtype}, not {' or '.join(types)}")
        return given
    found = sorted(t for t, info in topics.items() if info.msgtype in types)
    if len(found) > 1:
        raise BagError(f"{bag}: several {what} topics {found}: choose one with --{what}-topic")
    return found[0] if found else None


def _regular(stamps_ns: np.ndarray, period_ns: float) -> np.ndarray:
    """For each output frame on the regular clock from ``stamps_ns[0]``, the index of the last
    message at or before it (a missing frame repeats the previous one)."""
    n_out = int(np.floor((stamps_ns[-1] - stamps_ns[0]) / period_ns + 0.5)) + 1
    grid = stamps_ns[0] + np.arange(n_out) * period_ns
    return np.clip(np.searchsorted(stamps_ns, grid + period_ns / 2, side="right") - 1, 0, len(stamps_ns) - 1)


def _skeleton_hierarchy(first: Any, skeleton_bvh: Path | None, topic: str) -> Any:
    clip = read_bvh(skeleton_bvh, end_frame=1) if skeleton_bvh is not None else skeleton_template()
    skel = clip.skeleton
    names = list(first.joint_names)
    stream: list[str] = []
    i = 0
    for j, n in zip(names, first.channel_counts):
        stream += [f"{j}.{c}" for c in first.channel_types[i : i + int(n)]]
        i += int(n)
    if stream != list(skel.channel_names):
        source = str(skeleton_bvh) if skeleton_bvh is not None else "the bundled InHARD (Axis Neuron) hierarchy"
        hint = "" if skeleton_bvh is not None else "; give your suit's hierarchy with --skeleton FILE.bvh"
        raise BagError(f"topic {topic}: the stream's {len(names)} joints / {len(stream)} channels are not those of {source}{hint}")
    return skel


def dataset_from_bag(
    bag: str | Path,
    out_dir: str | Path,
    *,
    labels: str | Path | None = None,
    session: str | None = None,
    skeleton_bvh: str | Path | None = None,
    skeleton_topic: str | None = None,
    camera_topic: str | None = None,
    video_suffix: str = ".mp4",
    overwrite: bool = False,
) -> FromBagSummary:
    """Write one session of the ``sessions`` layout from ``bag`` (see the module docstring)."""
    from harnets_core.formats.bvh import BvhClip, write_bvh
    from harnets_core.formats.video import write_video

    bag, out = Path(bag), Path(out_dir)
    session = session or bag.name.removesuffix(".mcap").removesuffix(".db3")
    if not session or "/" in session or "," in session:
        raise ConfigError(f"session name {session!r}: give --session NAME (no '/' or ',')")
    topics = bag_topics(bag)
    skel_topic = _pick(topics, (SKELETON_FRAME_TYPE,), skeleton_topic, "skeleton", bag)
    cam_topic = _pick(topics, (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE), camera_topic, "camera", bag)
    if skel_topic is None and cam_topic is None:
        raise BagError(f"{bag}: no {SKELETON_FRAME_TYPE} and no camera topic (has {sorted(topics)})")
    out.mkdir(parents=True, exist_ok=True)
    summary = FromBagSummary(session)
    targets = [out / f"{session}.bvh"] if skel_topic else []
    targets += [out / f"{session}{video_suffix}"] if cam_topic else []
    for t in targets:
        if t.exists() and not overwrite:
            raise DatasetError(f"{t}: exists already (pass --overwrite)")

    def stamps(topic: str) -> np.ndarray:
        out_ns = np.array([_stamp_ns(m.msg, m.stamp_ns) for m in read_bag(bag, [topic])], dtype=np.int64)
        if out_ns.size < 2:
            raise BagError(f"{bag}: topic {topic} has {out_ns.size} message(s); a recording needs more")
        if np.any(np.diff(out_ns) <= 0):
            k = int(np.argmax(np.diff(out_ns) <= 0)) + 1
            raise BagError(f"{bag}: topic {topic}: header stamp {out_ns[k]} ns does not increase (message {k})")
        return out_ns

    streams = {t: stamps(t) for t in (skel_topic, cam_topic) if t}
    t0 = max(s[0] for s in streams.values())
    t1 = min(s[-1] for s in streams.values())
    if t1 <= t0:
        raise BagError(f"{bag}: topics {sorted(streams)} do not overlap in time")
    if skel_topic:
        summary.bvh, summary.n_skeleton_frames, summary.filled_skeleton = _write_skeleton(
            bag, skel_topic, streams[skel_topic], t0, t1, out / f"{session}.bvh",
            None if skeleton_bvh is None else Path(skeleton_bvh), BvhClip, write_bvh)
    if cam_topic:
        summary.video, summary.n_video_frames, summary.filled_video = _write_camera(
            bag, cam_topic, streams[cam_topic], t0, t1, out / f"{session}{video_suffix}", write_video)
    for what, n in (("skeleton", summary.filled_skeleton), ("video", summary.filled_video)):
        if n:
            summary.notes.append(f"{bag}: {n} missing {what} frame(s) filled by repeating the previous one")
    if labels is not None:
        _add_labels(Path(labels), out / "labels.csv", session, summary)
    return summary


def _in_span(stamps_ns: np.ndarray, t0: int, t1: int) -> np.ndarray:
    return (stamps_ns >= t0) & (stamps_ns <= t1)


def _write_skeleton(bag: Path, topic: str, stamps_ns: np.ndarray, t0: int, t1: int, path: Path,
                    skeleton_bvh: Path | None, clip_type: Any, write_bvh: Any) -> tuple[Path, int, int]:
    keep = _in_span(stamps_ns, t0, t1)
    rows, first, skel, frame_time_s = [], None, None, 0.0
    for k, m in enumerate(read_bag(bag, [topic])):
        if not keep[k]:
            continue
        msg = m.msg
        if first is None:
            first = msg
            skel = _skeleton_hierarchy(msg, skeleton_bvh, topic)
            frame_time_s = float(msg.frame_time_s)
            if not frame_time_s > 0:
                raise BagError(f"{bag}: topic {topic}: frame_time_s {frame_time_s} at {stamps_ns[k]} ns")
        elif list(msg.joint_names) != list(first.joint_names) or list(msg.channel_types) != list(first.channel_types):
            raise BagError(f"{bag}: topic {topic}: joints or channels change at {stamps_ns[k]} ns (message {k})")
        values = np.asarray(msg.values, dtype=np.float64)
        if values.size != skel.n_channels or not np.all(np.isfinite(values)):
            raise BagError(f"{bag}: topic {topic}: {values.size} values (want {skel.n_channels}, finite) at {stamps_ns[k]} ns")
        rows.append(values)
    kept = stamps_ns[keep]
    index = _regular(kept, frame_time_s * _NS)
    motion = np.stack(rows)[index]  # (F, C)
    write_bvh(path, clip_type(skel, frame_time_s, motion, None))
    return path, int(motion.shape[0]), int(len(index) - len(np.unique(index)))


def _write_camera(bag: Path, topic: str, stamps_ns: np.ndarray, t0: int, t1: int, path: Path,
                  write_video: Any) -> tuple[Path, int, int]:
    keep = _in_span(stamps_ns, t0, t1)
    kept = stamps_ns[keep]
    if kept.size < 2:
        raise BagError(f"{bag}: topic {topic}: fewer than 2 images while the skeleton stream runs")
    period_ns = float(np.median(np.diff(kept)))
    fps = _NS / period_ns
    index = _regular(kept, period_ns)

    def images() -> Iterator[np.ndarray]:
        shape = None
        for k, m in enumerate(read_bag(bag, [topic])):
            if not keep[k]:
                continue
            try:
                img = np.ascontiguousarray(image_to_numpy(m.msg, topic=topic))
            except Exception as err:
                raise BagError(f"{bag}: topic {topic}: image at {stamps_ns[k]} ns: {err}") from err
            if shape is not None and img.shape != shape:
                raise BagError(f"{bag}: topic {topic}: image size changes to {img.shape} at {stamps_ns[k]} ns")
            shape = img.shape
            yield img

    def regular() -> Iterator[np.ndarray]:
        it, current, have = images(), None, -1
        for want in index:
            while have < want:
                current, have = next(it), have + 1
            yield current

    write_video(path, regular(), round(fps, 3))
    return path, int(len(index)), int(len(index) - len(np.unique(index)))


def _add_labels(src: Path, dst: Path, session: str, summary: FromBagSummary) -> None:
    """Append ``src``'s rows of ``session`` (all rows when it has no session column) to the
    dataset's ``labels.csv`` (header written when new); checked by the sessions reader."""
    from harnets_core.datasets.own import read_labels

    text = src.read_text(encoding="utf-8-sig")
    header = [h.strip().lower() for h in text.splitlines()[0].split(",")] if text.strip() else []
    if "session" not in header:
        tmp_text = "session," + text.splitlines()[0] + "\n" + "".join(f"{session},{line}\n" for line in text.splitlines()[1:] if line.strip())
        tmp = dst.parent / f".{session}.labels.csv"
        tmp.write_text(tmp_text, encoding="utf-8")
        try:
            rows = read_labels(tmp)  # same line numbers as src
        except DatasetError as err:
            raise DatasetError(str(err).replace(str(tmp), str(src))) from err
        finally:
            tmp.unlink()
    else:
        rows = read_labels(src)
    mine = [r for r in rows if r[1] == session]
    summary.n_labels_other_sessions = len(rows) - len(mine)
    if not mine:
        raise DatasetError(f"{src}: no row of session {session!r}")
    new = not dst.is_file()
    if not new:
        existing = read_labels(dst)
        if any(r[1] == session for r in existing):
            raise DatasetError(f"{dst}: already has rows of session {session!r}")
    with open(dst, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["session", "start_s", "end_s", "label", "subject"])
        writer.writerows([(session, f"{a:g}", f"{b:g}", label, subject) for _, _, a, b, label, subject in mine])
    summary.n_labels = len(mine)
