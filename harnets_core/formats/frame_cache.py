"""The decoded-frame cache: what a video gives (frames, sampled and prepared frames, keypoints)
stored once per video and setting, memory-mapped on the next read, keyed by a fingerprint of
the file, so later epochs, runs and evaluations never decode the video again."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harnets_core.errors import ConfigError, VideoError
from harnets_core.formats.video import (
    DEFAULT_VIEW_SIZE_HW,
    VideoInfo,
    check_frame_range,
    check_video_file,
    check_view,
    frame_indices,
    iter_frames,
    probe_video,
)

__all__ = ["FrameCache"]

_CACHE_FORMAT = 1


_FINGERPRINT_BYTES = 1 << 16


def _fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and a hash of the first and last 64 KiB: changes when the file does."""
    st = path.stat()
    h = hashlib.sha1()
    with path.open("rb") as f:
        h.update(f.read(_FINGERPRINT_BYTES))
        if st.st_size > _FINGERPRINT_BYTES:
            f.seek(max(_FINGERPRINT_BYTES, st.st_size - _FINGERPRINT_BYTES))
            h.update(f.read())
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha1_ends": h.hexdigest()}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60]


class FrameCache:
    """On-disk cache of decoded, resized frames and of any per-video array (keypoints, ...).

    One ``.npy`` (+ a ``.json`` sidecar) per (source file, name, settings) under ``root``;
    the key is a SHA-256 of the file's resolved path, the name and the settings. The sidecar
    records the source's size, mtime and a hash of its first/last 64 KiB: when the video
    changes the entry is stale, is recomputed and counted in ``stale``. Arrays are written
    to a temporary file and renamed into place (safe with several DataLoader workers) and
    read back memory-mapped (``np.load(mmap_mode="r", allow_pickle=False)``), so later
    epochs never decode video again and never hold a whole session in memory.

    Counters ``hits``, ``misses`` and ``stale`` count lookups.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.stale = 0

    def __repr__(self) -> str:
        return f"FrameCache({str(self.root)!r}, hits={self.hits}, misses={self.misses}, stale={self.stale})"

    # -- keys and metadata
    def _paths(self, source: Path, name: str, settings: dict[str, Any]) -> tuple[Path, Path, dict]:
        key = {"format": _CACHE_FORMAT, "source": str(source.resolve()), "name": name,
               "settings": settings}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        stem = f"{_safe(source.stem)}-{_safe(name)}-{digest}"
        return self.root / f"{stem}.npy", self.root / f"{stem}.json", key

    def _valid_meta(self, source: Path, meta_path: Path) -> dict[str, Any] | None:
        """The sidecar if it exists and matches the source file now, else None."""
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
        check_video_file(source)
        if meta.get("fingerprint") != _fingerprint(source):
            self.stale += 1
            return None
        return meta

    def _write_meta(self, meta_path: Path, meta: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f, sort_keys=True)
        os.replace(tmp, meta_path)

    def _load(self, npy: Path) -> np.ndarray:
        try:
            return np.load(npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise VideoError(f"{npy}: unreadable cache entry ({err}); delete it") from err

    def _lookup(self, source: Path, name: str, settings: dict[str, Any]):
        npy, meta_path, key = self._paths(source, name, settings)
        meta = self._valid_meta(source, meta_path)
        if meta is not None and npy.exists():
            self.hits += 1
            return npy, meta_path, key, meta
        self.misses += 1
        return npy, meta_path, key, None

    # -- generic arrays
    def array(
        self, name: str, source: str | Path, compute: Callable[[], np.ndarray],
        *, settings: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """The array ``compute()`` returns for ``source`` under ``name`` and JSON-able
        ``settings``, computed once and then loaded (read-only, memory-mapped) from disk.
        Object arrays are refused (no pickles)."""
        source = Path(source)
        check_video_file(source)
        settings = dict(settings or {})
        npy, meta_path, key, meta = self._lookup(source, name, settings)
        if meta is not None:
            return self._load(npy)
        fingerprint = _fingerprint(source)
        arr = np.asarray(compute())
        if arr.dtype == object:
            raise ConfigError(f"cache entry {name!r} of {source}: object arrays cannot be cached")
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        os.replace(tmp, npy)
        self._write_meta(meta_path, {**key, "fingerprint": fingerprint,
                                     "shape": list(arr.shape), "dtype": str(arr.dtype)})
        return self._load(npy)

    # -- videos
    def video_info(self, video: str | Path) -> VideoInfo:
        """:func:`probe_video` of ``video``, remembered in the cache (exact frame count)."""
        video = Path(video)
        _, meta_path, key = self._paths(video, "info", {})
        meta = self._valid_meta(video, meta_path)
        if meta is not None:
            return VideoInfo.from_dict(meta["info"])
        info = probe_video(video)
        self._write_meta(meta_path, {**key, "fingerprint": _fingerprint(video), "info": info.to_dict()})
        return info

    def frames(
        self, video: str | Path, *, view: str = "full",
        size_hw: tuple[int, int] | None = DEFAULT_VIEW_SIZE_HW,
    ) -> np.ndarray:
        """Every frame of ``video`` for ``view`` at ``size_hw``: RGB ``uint8 (N, H, W, 3)``,
        read-only and memory-mapped. The first call decodes the whole video once, streaming
        into the cache file (memory stays flat)."""
        video = Path(video)
        check_view(view)
        settings = {"view": view, "size_hw": None if size_hw is None else list(map(int, size_hw))}
        npy, meta_path, key, meta = self._lookup(video, "frames", settings)
        if meta is not None:
            return self._load(npy)
        fingerprint = _fingerprint(video)
        info = probe_video(video)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".npy")
        os.close(fd)
        shape: tuple[int, ...] = ()
        try:
            out = None
            for i, frame in enumerate(iter_frames(video, view=view, size_hw=size_hw, info=info)):
                if out is None:
                    shape = (info.n_frames,) + frame.shape  # (N, H, W, 3)
                    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
                out[i] = frame
            assert out is not None  # probe_video guarantees n_frames >= 1
            out.flush()
            del out
            os.replace(tmp, npy)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._write_meta(meta_path, {**key, "fingerprint": fingerprint, "info": info.to_dict(),
                                     "shape": list(shape), "dtype": "uint8"})
        return self._load(npy)

    def read_frames(
        self,
        video: str | Path,
        start_frame: int = 0,
        end_frame: int | None = None,
        *,
        view: str = "full",
        size_hw: tuple[int, int] | None = DEFAULT_VIEW_SIZE_HW,
        stride: int = 1,
        sequence_length: int | None = None,
    ) -> np.ndarray:
        """Like :func:`read_frames` (same arguments, same result) but from the cache: an
        in-memory ``uint8 (N, H, W, 3)`` copy of the selected frames."""
        video = Path(video)
        allf = self.frames(video, view=view, size_hw=size_hw)
        end = allf.shape[0] if end_frame is None else int(end_frame)
        check_frame_range(video, int(start_frame), end, allf.shape[0])
        idx = frame_indices(int(start_frame), end, stride=stride, sequence_length=sequence_length)
        return np.ascontiguousarray(allf[idx])
