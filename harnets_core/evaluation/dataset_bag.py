"""One recording of a dataset as a session bag, in any layout with continuous recordings.

``harnets bag from-dataset --data DIR --session S --out BAG`` writes what a workcell would have
recorded (:func:`harnets_core.formats.session_bag.write_session_bag`: skeleton frames, camera
images, the ground truth on one clock) from:

- InHARD's online layout (:func:`harnets_core.evaluation.replay.bag_from_inhard`): its 14
  meta-actions, "No action" among them;
- your own ``sessions`` layout (``<session>.bvh`` [+ video] and ``labels.csv``): the ground
  truth carries YOUR class names (the dataset's table, ``classes.txt`` order and display names),
  so ``harnets replay-eval`` scores a model trained on that dataset by its own classes. Time
  between label rows is idle (the ground truth's ``class_id`` -1 there, as in InHARD's gaps;
  the replay report calls it "No action"). The camera is the whole frame (``view="full"``: a
  single-view recording, not a mosaic).

A ``classes`` layout holds one clip per activity, not continuous recordings: there is no session
to play back, and saying so is a DatasetError. Neither is InHARD's segmented layout one.
"""
from __future__ import annotations

import logging
from pathlib import Path

from harnets_core.datasets.layouts import canonical_layout
from harnets_core.datasets.own import SessionsLayout, scan_own
from harnets_core.datasets.selection import detect_layout
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.evaluation.replay import BAG_START_NS, bag_from_inhard
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.session_bag import write_session_bag

__all__ = ["IMAGE_CHOICES", "bag_from_dataset"]

log = logging.getLogger(__name__)

IMAGE_CHOICES: tuple[str, ...] = ("raw", "compressed", "none")
"""``images=``: rgb8 Image, JPEG CompressedImage, or no camera topic."""


def bag_from_dataset(
    root: str | Path,
    session: str,
    out: str | Path,
    *,
    layout: str = "auto",
    storage: str = "mcap",
    images: str = "raw",
    start_s: float = 0.0,
    end_s: float | None = None,
) -> dict[str, int]:
    """One recording ``session`` of the dataset at ``root`` as a rosbag2 (see the module
    docstring); returns the messages written per topic.

    ``layout``: ``auto`` (detected as training does), ``sessions``, ``inhard-online``/``online``;
    ``classes`` and ``segmented`` are DatasetErrors (no continuous recording). ``images``:
    ``raw``, ``compressed`` or ``none``; a session without a video gets no camera topic (logged).

    Raises:
        DatasetError: no such session (the known ones named), no BVH for it, a layout without
            continuous recordings, or a bad labels file (file and line).
        ConfigError: an unknown layout or image choice.
    """
    if images not in IMAGE_CHOICES:
        raise ConfigError(f"images {images!r}: use one of {', '.join(IMAGE_CHOICES)}")
    root = Path(root)
    name = detect_layout(root) if layout == "auto" else canonical_layout(layout)
    if name == "online":
        return bag_from_inhard(root, session, out, storage=storage, images=images, start_s=start_s, end_s=end_s)
    if name in ("classes", "segmented"):
        raise DatasetError(
            f"{root}: the {name} layout holds one clip per activity, not continuous recordings: there is no session "
            "to play back as a bag. Record whole sessions (harnets record, then harnets dataset from-bag) or arrange "
            "recordings as the sessions layout (<session>.bvh [+ .mp4] and labels.csv: session,start_s,end_s,label)")
    if name != "sessions":
        raise ConfigError(f"layout {layout!r}: bag from-dataset reads sessions or inhard-online")
    files = SessionsLayout(root)
    recordings = files.recordings()
    if session not in recordings:
        raise DatasetError(f"{root}: no recording {session!r} (recordings: {', '.join(sorted(recordings)) or 'none'})")
    bvh = files.session_bvh(session)  # DatasetError naming the path when the session is camera-only
    data = scan_own(root, "sessions", "skeleton")
    segments = [s for s in data.segments if s.session == session]
    if not segments:
        raise DatasetError(f"{root / 'labels.csv'}: no label row of session {session!r}: nothing to score a replay against")
    video = None
    if images != "none":
        if "video" in recordings[session]:
            video = recordings[session]["video"]
        else:
            log.warning("%s: session %s has no video: the bag gets no camera topic", root, session)
    return write_session_bag(
        out, clip=read_bvh(bvh), segments=segments, video_path=video, view="full", start_time_ns=BAG_START_NS,
        storage=storage, image_format="compressed" if images == "compressed" else "raw", start_s=start_s, end_s=end_s,
        class_names=data.class_names,
    )
