"""Videos with the recognized activity drawn on them (``harnets predict VIDEO --video-out``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from harnets_core.formats.video import VideoInfo, frame_stamps_ns, iter_frames, probe_video, write_video
from harnets_core.visualization.annotate import draw_label

__all__ = ["render_predictions_video"]

_WAIT_TEXT = "(filling the first window)"


def render_predictions_video(
    video_path: str | Path,
    out_path: str | Path,
    *,
    predictions: Sequence[Any] = (),
    clip: tuple[str, float] | None = None,
    fps: float | None = None,
) -> VideoInfo:
    """Write ``video_path`` again to ``out_path`` (MP4) with the recognized activity drawn on
    each frame (the whole frame, e.g. the full mosaic).

    Timeline: ``predictions`` (streaming Predictions with ``stamp_ns``, ``label``,
    ``confidence``) in time order; frame k (stamp ``k / fps``) shows the newest prediction
    made at or before it ("(filling the first window)" before the first). Clip: ``clip`` =
    (label, confidence) on every frame. ``fps`` defaults to the input's. Returns the written
    file's VideoInfo. Odd frame sizes are padded by one pixel (MPEG-4 needs even sizes).
    """
    video = Path(video_path)
    info = probe_video(video)
    stamps = frame_stamps_ns(info.n_frames, info.fps)
    pred_stamps = np.asarray([int(p.stamp_ns) for p in predictions], dtype=np.int64)
    if np.any(np.diff(pred_stamps) < 0):
        raise ValueError(f"{video}: predictions must be in time order")

    def frames() -> Iterator[np.ndarray]:
        for k, frame in enumerate(iter_frames(video, view="full", size_hw=None, info=info)):
            frame = np.ascontiguousarray(frame)
            if frame.shape[0] % 2 or frame.shape[1] % 2:
                frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
            if clip is not None:
                draw_label(frame, f"{clip[0]} {clip[1]:.2f}", float(clip[1]))
            else:
                i = int(np.searchsorted(pred_stamps, stamps[k], side="right")) - 1
                if i < 0:
                    draw_label(frame, _WAIT_TEXT, None)
                else:
                    p = predictions[i]
                    draw_label(frame, f"{p.label} {p.confidence:.2f}", float(p.confidence))
            yield frame

    return write_video(out_path, frames(), float(fps or info.fps))
