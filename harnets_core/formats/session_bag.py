"""A recording as a rosbag2: skeleton, camera and ground truth on one clock.

One clock for everything: bag time = ``start_time_ns`` + session time, where session time 0
is the first BVH frame and the first video frame (InHARD records both from the session
start). BVH frame ``i`` is at ``i * frame_time_s``, video frame ``k`` at ``k / fps``; header
stamps equal the bag's log times. Ground truth is an ``Activity`` stream with
``source="ground_truth"`` (``topology.GROUND_TRUTH_SOURCE``): one message at every change of the
annotated class (each segment start, and each segment end that opens an unannotated gap) plus one every
``1 / ground_truth_rate_hz`` seconds from ``start_s`` (a late subscriber learns the current
label quickly), over ``[start_s, end_s)``; ``end_s`` defaults to the end of the BVH.
Annotated time is ``[bvh_start_frame, bvh_end_frame + 1) * frame_time_s`` (the csv's end frame
is inclusive); inside a segment the message has confidence 1 and a one-hot probability vector;
in a gap ``class_id`` is -1, ``label`` is ``""``, confidence and probabilities are 0.
``window_start`` is the time the current label (or gap) began.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harnets_core.errors import BagError
from harnets_core.formats.bags import (
    ACTIVITY_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    SKELETON_FRAME_TYPE,
    BagWriter,
    activity_msg,
    compressed_image_msg,
    header_msg,
    image_msg,
    make_typestore,
)
from harnets_core.formats.messages import skeleton_frame_fields, skeleton_frame_layout
from harnets_core.formats.video import iter_frames, probe_video
from harnets_core.topology import BAG_GROUND_TRUTH_TOPIC, BAG_IMAGE_TOPIC, BAG_SKELETON_TOPIC, GROUND_TRUTH_SOURCE, compressed_topic

__all__ = ["default_topics", "write_session_bag"]

_NS_PER_S = 1_000_000_000


def default_topics(image_format: str = "raw") -> dict[str, str]:
    """Topic names of a session bag (``harnets_core.topology``'s ``BAG_*``): skeleton,
    image (``.../compressed`` for compressed), ground_truth."""
    image = compressed_topic(BAG_IMAGE_TOPIC) if image_format == "compressed" else BAG_IMAGE_TOPIC
    return {"skeleton": BAG_SKELETON_TOPIC, "image": image, "ground_truth": BAG_GROUND_TRUTH_TOPIC}


@dataclass(frozen=True)
class _GtSpan:
    start_s: float
    end_s: float
    class_id: int
    class_name: str


def _gt_spans(segments: Iterable[Any], frame_time_s: float) -> list[_GtSpan]:
    spans = [
        _GtSpan(s.bvh_start_frame * frame_time_s, (s.bvh_end_frame + 1) * frame_time_s, int(s.class_id), s.class_name)
        for s in segments
    ]
    return sorted(spans, key=lambda s: s.start_s)


def _gt_times(spans: Sequence[_GtSpan], t0_s: float, t1_s: float, rate_hz: float) -> list[float]:
    times = {t0_s}
    if rate_hz > 0:
        n = int(np.ceil((t1_s - t0_s) * rate_hz - 1e-9))
        times.update(t0_s + k / rate_hz for k in range(n))
    for s in spans:
        times.update(t for t in (s.start_s, s.end_s) if t0_s <= t < t1_s)
    return sorted(t for t in times if t < t1_s)


def _label_at(spans: Sequence[_GtSpan], t_s: float) -> tuple[_GtSpan | None, float]:
    """The span covering ``t_s`` (latest start wins) and when the current label/gap began."""
    active = [s for s in spans if s.start_s <= t_s < s.end_s]
    if active:
        span = max(active, key=lambda s: s.start_s)
        return span, span.start_s
    ended = [s.end_s for s in spans if s.end_s <= t_s]
    return None, max(ended, default=0.0)


def write_session_bag(
    out_path: str | Path,
    *,
    clip: Any,
    segments: Sequence[Any] = (),
    video_path: str | Path | None = None,
    view: str = "full",
    start_time_ns: int = 0,
    storage: str = "mcap",
    image_format: str = "compressed",
    jpeg_quality: int = 90,
    topics: Mapping[str, str] | None = None,
    class_names: Sequence[str],
    start_s: float = 0.0,
    end_s: float | None = None,
    ground_truth_rate_hz: float = 10.0,
    skeleton_frame_id: str = "mocap",
    camera_frame_id: str = "camera",
) -> dict[str, int]:
    """Write one InHARD session (or a time range of it) as a rosbag2 a robot cell could have recorded.

    Args:
        out_path: bag folder to create (must not exist).
        clip: a ``harnets_core.formats.bvh.BvhClip`` (``.skeleton.joints`` with ``name/channels/is_end_site``,
            ``.frame_time_s``, ``.motion`` (F, C)); frame ``i`` is at session time ``i * frame_time_s``.
        segments: ``harnets_core.datasets.inhard.Segment``s of this session (``class_id``, ``class_name``,
            ``bvh_start_frame``, ``bvh_end_frame`` inclusive) for the ground-truth stream; empty: none.
        video_path: the session's mosaic video; None: no images. Its frame rate is read from the
            file (``harnets_core.formats.video.probe_video``); video frame ``k`` is at ``k / fps``.
        view: ``"full"`` (default: the whole mosaic, as a camera driver would publish it; the
            recognition node crops) or one view of ``harnets_core.formats.video.VIEWS``.
        start_time_ns: bag time of session time 0, in nanoseconds.
        storage: ``mcap`` or ``sqlite3``.
        image_format: ``compressed`` (JPEG CompressedImage, default: a raw full-HD mosaic is about
            6 MB a frame) or ``raw`` (rgb8 Image).
        topics: overrides of ``default_topics(image_format)`` (keys skeleton, image, ground_truth).
        class_names: names by class id for the ground-truth probability vector (InHARD: its 14 meta-actions).
        start_s, end_s: session time range written, in seconds (end exclusive; None: to the end).
        ground_truth_rate_hz: periodic ground-truth rate (0: only at changes).

    Returns:
        Messages written per topic.
    """
    if image_format not in ("raw", "compressed"):
        raise BagError(f"{out_path}: unknown image_format {image_format!r} (raw, compressed)")
    unknown = set(topics or {}) - {"skeleton", "image", "ground_truth"}
    if unknown:
        raise BagError(f"{out_path}: unknown topic keys {sorted(unknown)} (skeleton, image, ground_truth)")
    names = {**default_topics(image_format), **(topics or {})}
    class_names = list(class_names)
    class_ids = np.arange(len(class_names), dtype=np.int32)

    typestore = make_typestore()
    frame_time_s = float(clip.frame_time_s)
    layout = skeleton_frame_layout(clip.skeleton)
    motion = np.ascontiguousarray(clip.motion, dtype=np.float32)  # (F, C)
    if motion.ndim != 2 or motion.shape[1] != layout.n_channels:
        raise BagError(f"{out_path}: motion {motion.shape} does not match {layout.n_channels} channels")
    n_frames = motion.shape[0]
    first = max(0, int(np.ceil(start_s / frame_time_s - 1e-9)))
    last = n_frames if end_s is None else min(n_frames, int(np.ceil(end_s / frame_time_s - 1e-9)))
    session_end_s = n_frames * frame_time_s if end_s is None else end_s

    def stamp(t_s: float) -> int:
        return int(start_time_ns) + int(round(t_s * _NS_PER_S))

    # Each stream yields (stamp_ns, order, topic, build) lazily; heapq.merge keeps the bag in time order.
    def skeleton_stream() -> Iterator[tuple[int, int, str, Any]]:
        for i in range(first, last):
            t_ns = stamp(i * frame_time_s)
            # the layout is checked once (skeleton_frame_msg would check it for every frame)
            yield t_ns, 0, names["skeleton"], lambda i=i, t_ns=t_ns: typestore.types[SKELETON_FRAME_TYPE](
                header=header_msg(typestore, t_ns, skeleton_frame_id),
                **skeleton_frame_fields(layout, motion[i], i, frame_time_s),
            )

    def image_stream() -> Iterator[tuple[int, int, str, Any]]:
        if video_path is None:
            return
        path = Path(video_path)
        info = probe_video(path)
        k0 = max(0, int(np.ceil(start_s * info.fps - 1e-9)))
        k1 = info.n_frames if end_s is None else min(info.n_frames, int(np.ceil(end_s * info.fps - 1e-9)))
        if k1 <= k0:
            return
        frames = iter_frames(path, k0, k1, view=view, size_hw=None, info=info)
        for k, rgb in zip(range(k0, k1), frames):
            t_ns = stamp(k / info.fps)
            if image_format == "raw":
                yield t_ns, 1, names["image"], lambda t_ns=t_ns, rgb=rgb: image_msg(
                    t_ns, camera_frame_id, rgb, typestore=typestore
                )
            else:
                yield t_ns, 1, names["image"], lambda t_ns=t_ns, rgb=rgb: compressed_image_msg(
                    t_ns, camera_frame_id, rgb, jpeg_quality, typestore=typestore
                )

    spans = _gt_spans(segments, frame_time_s)

    def gt_stream() -> Iterator[tuple[int, int, str, Any]]:
        if not spans:
            return
        for t_s in _gt_times(spans, start_s, session_end_s, ground_truth_rate_hz):
            span, began_s = _label_at(spans, t_s)
            t_ns = stamp(t_s)
            if span is None:
                fields = dict(label="", class_id=-1, confidence=0.0, probabilities=np.zeros(len(class_names)))
            else:
                probs = (class_ids == span.class_id).astype(np.float32)
                fields = dict(label=span.class_name, class_id=span.class_id, confidence=1.0, probabilities=probs)
            yield t_ns, 2, names["ground_truth"], lambda t_ns=t_ns, began_s=began_s, fields=fields: activity_msg(
                typestore, t_ns, window_start_ns=stamp(max(began_s, start_s)), source=GROUND_TRUTH_SOURCE,
                class_names=class_names, class_ids=class_ids, frame_id="inhard", **fields,
            )

    counts = {names["skeleton"]: 0}
    with BagWriter(out_path, storage=storage, typestore=typestore) as bag:
        bag.add_topic(names["skeleton"], SKELETON_FRAME_TYPE)
        if video_path is not None:
            bag.add_topic(names["image"], IMAGE_TYPE if image_format == "raw" else COMPRESSED_IMAGE_TYPE)
            counts[names["image"]] = 0
        if spans:
            bag.add_topic(names["ground_truth"], ACTIVITY_TYPE)
            counts[names["ground_truth"]] = 0
        merged = heapq.merge(skeleton_stream(), image_stream(), gt_stream(), key=lambda item: item[:2])
        for t_ns, _order, topic, build in merged:
            bag.write(topic, t_ns, build())
            counts[topic] += 1
    return counts
