"""Synthetic InHARD-like mosaic videos rendered from skeleton motion.

InHARD's session videos are 2x2 mosaics (see :mod:`harnets_core.formats.video`): top-left = top view
(camera 1, above the workcell looking down), top-right = left side view (camera 2, -45 deg),
bottom-right = right side view (camera 3, +45 deg), bottom-left = a render of the skeleton.
This module draws the same layout from world joint positions ``(F, J, 3)`` (cm, Y up, as
:func:`harnets_core.features.kinematics.forward_kinematics` returns them), so that video models have
real visual motion to learn on machines without the dataset:

- the three camera views show a simple shaded body (thick limbs with a highlight, head and
  hands as discs, far parts darker) in a small workcell (floor grid, wall, workbench with
  sheets, a parts shelf on the operator's left); each camera sees it from its own pose, so
  the background differs per view;
- the skeleton quadrant is a stick figure on a plain background, seen from the front;
- a little per-frame pixel noise.

Geometry: the operator's front is estimated from the hip joints (``LeftUpLeg``/``RightUpLeg``,
+Z when names are unknown); the workbench stands 60 cm in front of the median hip position.
Cameras: top straight down from 280 cm (under a 3 m lab ceiling; "placed on top of the
subjects", as InHARD describes camera 1), centred 30 cm in front of the hips so that it frames
the operator and the workbench; side cameras 260 cm away at 45 deg left / right of the front,
210 cm high, looking at the torso. Perspective pinhole cameras, 64 deg horizontal field of
view (the C920's is about 70).

Video frames are sampled by time: frame ``k`` (at ``k / fps`` s) shows the motion linearly
interpolated at that time; the video has ``floor(F * frame_time_s * fps)`` frames.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from harnets_core.errors import ConfigError, VideoError
from harnets_core.formats.video import (
    DEFAULT_VIEW_SIZE_HW,
    VideoInfo,
    probe_video,
    read_frames,
    time_range_to_frames,
    write_video,
)

if TYPE_CHECKING:  # pragma: no cover
    from harnets_core.formats.bvh import BvhClip
    from harnets_core.datasets.inhard import Segment

__all__ = [
    "DEFAULT_MOSAIC_SIZE_HW",
    "Camera",
    "look_at",
    "Scene",
    "scene_from_positions",
    "MosaicRenderer",
    "video_frame_times",
    "positions_at_times",
    "render_mosaic_video",
    "render_session_video",
    "write_segmented_clips",
]

DEFAULT_MOSAIC_SIZE_HW: tuple[int, int] = (2 * DEFAULT_VIEW_SIZE_HW[0], 2 * DEFAULT_VIEW_SIZE_HW[1])
"""Default mosaic size (H, W): four views of :data:`~harnets_core.formats.video.DEFAULT_VIEW_SIZE_HW`."""

_UP = np.array([0.0, 1.0, 0.0])
_TOP_HEIGHT_CM = 280.0  # was 420: from there the operator filled ~1 % of the top view
_NEAR_CM = 5.0
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT


# ----------------------------------------------------------------------------- cameras
@dataclass(frozen=True)
class Camera:
    """Pinhole camera. ``rotation`` rows are the camera's x (right), y (down), z (forward)
    axes in world coordinates; ``position_cm`` its centre; pixels ``u = f x/z + cx``."""

    name: str
    rotation: np.ndarray  # (3, 3)
    position_cm: np.ndarray  # (3,)
    focal_px: float
    center_px: tuple[float, float]

    def to_camera(self, points_cm: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` cm -> camera coordinates ``(..., 3)`` cm (z = depth)."""
        return (points_cm - self.position_cm) @ self.rotation.T

    def project(self, points_cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``(..., 3)`` -> pixels ``(..., 2)`` and depth ``(...,)`` cm (clamped
        to the near plane, so points behind the camera do not wrap around)."""
        pc = self.to_camera(points_cm)
        z = np.maximum(pc[..., 2], _NEAR_CM)
        uv = self.focal_px * pc[..., :2] / z[..., None] + np.asarray(self.center_px)
        return uv, z


def look_at(name: str, eye_cm: np.ndarray, target_cm: np.ndarray, size_hw: tuple[int, int],
            *, fov_deg: float = 64.0, up_hint: np.ndarray = _UP) -> Camera:
    """A camera at ``eye_cm`` looking at ``target_cm`` with image-up along ``up_hint``,
    ``fov_deg`` horizontal field of view, for an image of ``size_hw`` pixels."""
    eye = np.asarray(eye_cm, dtype=np.float64)
    fwd = np.asarray(target_cm, dtype=np.float64) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, up_hint)
    if np.linalg.norm(right) < 1e-6:
        raise ConfigError(f"camera {name}: up_hint is parallel to the viewing direction")
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    h, w = size_hw
    focal = (w / 2) / np.tan(np.radians(fov_deg) / 2)
    return Camera(name, np.stack([right, down, fwd]), eye, float(focal), (w / 2, h / 2))


@dataclass(frozen=True)
class Scene:
    """Where the operator works: ``center_cm`` (median hip position on the floor),
    ``front`` (unit horizontal vector the operator faces), ``floor_y_cm``."""

    center_cm: np.ndarray
    front: np.ndarray
    floor_y_cm: float

    @property
    def left(self) -> np.ndarray:
        """The operator's left (unit, horizontal)."""
        return np.cross(_UP, self.front)


def _index(names: Sequence[str] | None, name: str) -> int | None:
    if names is None:
        return None
    try:
        return list(names).index(name)
    except ValueError:
        return None


def scene_from_positions(positions_cm: np.ndarray, joint_names: Sequence[str] | None = None) -> Scene:
    """Scene of a whole recording ``(F, J, 3)``: centred on the median root (joint 0)
    position, facing the mean direction of ``(LeftUpLeg - RightUpLeg) x up`` (+Z when the
    names are unknown), floor at the lowest joint height."""
    pos = np.asarray(positions_cm, dtype=np.float64)
    center = np.median(pos[:, 0, :], axis=0)
    floor_y = float(np.percentile(pos[..., 1].min(axis=1), 5))
    center[1] = floor_y
    front = np.array([0.0, 0.0, 1.0])
    li, ri = _index(joint_names, "LeftUpLeg"), _index(joint_names, "RightUpLeg")
    if li is not None and ri is not None:
        lateral = (pos[:, li] - pos[:, ri]).mean(axis=0)
        f = np.cross(lateral, _UP)
        f[1] = 0.0
        if np.linalg.norm(f) > 1e-6:
            front = f / np.linalg.norm(f)
    return Scene(center, front, floor_y)


# ----------------------------------------------------------------------------- static workcell
def _clip_near(pc: np.ndarray) -> np.ndarray:
    """Clip a polygon in camera coordinates ``(P, 3)`` to ``z >= near`` (Sutherland-Hodgman)."""
    out = []
    n = len(pc)
    for i in range(n):
        a, b = pc[i], pc[(i + 1) % n]
        ina, inb = a[2] >= _NEAR_CM, b[2] >= _NEAR_CM
        if ina:
            out.append(a)
        if ina != inb:
            t = (_NEAR_CM - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if out else np.zeros((0, 3))


def _fill_polygon(img: np.ndarray, cam: Camera, pts_cm: np.ndarray, color) -> None:
    pc = _clip_near(cam.to_camera(pts_cm))
    if len(pc) < 3:
        return
    uv = cam.focal_px * pc[:, :2] / pc[:, 2:3] + np.asarray(cam.center_px)
    uv = np.clip(uv, -1e4, 1e4)
    cv2.fillPoly(img, [np.round(uv * _SCALE).astype(np.int32)], color, cv2.LINE_AA, _SHIFT)


def _box_faces(center: np.ndarray, half: np.ndarray, axes: np.ndarray):
    """Faces (4 corners each) and outward normals of a box."""
    faces = []
    for k in range(3):
        for s in (-1.0, 1.0):
            n = s * axes[k]
            o = [j for j in range(3) if j != k]
            c = center + s * half[k] * axes[k]
            a, b = half[o[0]] * axes[o[0]], half[o[1]] * axes[o[1]]
            faces.append((np.array([c - a - b, c + a - b, c + a + b, c - a + b]), n))
    return faces


_LIGHT = np.array([0.3, 0.9, 0.3]) / np.linalg.norm([0.3, 0.9, 0.3])


def _draw_box(img, cam: Camera, center, half, axes, color) -> None:
    faces = _box_faces(np.asarray(center, float), np.asarray(half, float), axes)
    faces.sort(key=lambda f: -float(cam.to_camera(f[0].mean(axis=0))[2]))
    for corners, normal in faces:
        if np.dot(normal, cam.position_cm - corners.mean(axis=0)) <= 0:
            continue  # back face
        shade = 0.55 + 0.45 * max(0.0, float(np.dot(normal, _LIGHT)))
        _fill_polygon(img, cam, corners, tuple(float(c) * shade for c in color))


def _render_background(cam: Camera, scene: Scene, size_hw: tuple[int, int], wall_rgb) -> np.ndarray:
    h, w = size_hw
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (70, 74, 80)
    c, f, l = scene.center_cm, scene.front, scene.left
    axes = np.stack([l, _UP, f])
    # wall behind the operator, floor, floor grid
    wall = c - 170 * f
    _fill_polygon(img, cam, np.array([wall - 400 * l, wall + 400 * l, wall + 400 * l + 300 * _UP,
                                      wall - 400 * l + 300 * _UP]), wall_rgb)
    _fill_polygon(img, cam, np.array([wall - 400 * l + 120 * _UP, wall - 150 * l + 120 * _UP,
                                      wall - 150 * l + 200 * _UP, wall - 400 * l + 200 * _UP]),
                  (200, 190, 160))  # a board on the wall
    floor = [c - 170 * f - 400 * l, c - 170 * f + 400 * l, c + 400 * f + 400 * l, c + 400 * f - 400 * l]
    _fill_polygon(img, cam, np.array(floor), (128, 124, 118))
    for k in range(-4, 5):
        for a, b in ((c + 100 * k * l - 170 * f, c + 100 * k * l + 400 * f),
                     (c + (50 * k + 100) * f - 400 * l, c + (50 * k + 100) * f + 400 * l)):
            _fill_polygon(img, cam, np.array([a, b, b + 0.8 * f + 0.8 * l, a + 0.8 * f + 0.8 * l]),
                          (100, 98, 94))
    # workbench in front, sheets on it, parts shelf on the left, a yellow floor marking
    bench = c + 65 * f + 90 * _UP
    _draw_box(img, cam, bench - 45 * _UP - 55 * l, (3, 45, 3), axes, (90, 70, 50))
    _draw_box(img, cam, bench - 45 * _UP + 55 * l, (3, 45, 3), axes, (90, 70, 50))
    _draw_box(img, cam, bench, (90, 3, 32), axes, (150, 110, 70))
    _draw_box(img, cam, bench + 3.5 * _UP - 40 * l, (15, 0.5, 11), axes, (235, 235, 228))
    _draw_box(img, cam, bench + 8 * _UP + 45 * l + 10 * f, (14, 5, 10), axes, (60, 110, 170))
    shelf = c + 95 * l + 15 * f + 60 * _UP
    _draw_box(img, cam, shelf, (18, 60, 30), axes, (110, 120, 130))
    for k, col in enumerate(((200, 60, 50), (60, 160, 70), (220, 180, 40))):
        _draw_box(img, cam, shelf + (30 * k - 30) * _UP + 14 * f, (14, 6, 10), axes, col)
    _fill_polygon(img, cam, np.array([c - 140 * f - 150 * l, c - 140 * f + 150 * l,
                                      c - 132 * f + 150 * l, c - 132 * f - 150 * l]), (210, 190, 40))
    return img


# ----------------------------------------------------------------------------- body model
_FINGER_WORDS = ("Thumb", "Index", "Middle", "Ring", "Pinky", "InHand")


def _bone_style(child_name: str | None) -> tuple[float, tuple[int, int, int]] | None:
    """(radius cm, RGB) of the body part ending at ``child_name``; None = not drawn."""
    if child_name is None:
        return 4.0, (70, 100, 170)
    n = child_name
    if any(wd in n for wd in _FINGER_WORDS):
        return None
    if n.startswith("Head") or n == "Neck" or n.startswith("Neck"):
        return 5.0, (225, 180, 150)
    if n.startswith("Spine"):
        return 13.0, (50, 90, 160)  # shirt
    if "UpLeg" in n:
        return 8.0, (45, 50, 60)  # trousers
    if "Leg" in n:
        return 6.5, (45, 50, 60)
    if "Foot" in n:
        return 4.5, (30, 30, 30)
    if "Shoulder" in n:
        return 6.0, (50, 90, 160)
    if "ForeArm" in n:
        return 4.5, (225, 180, 150)  # rolled-up sleeves
    if "Arm" in n:
        return 5.5, (50, 90, 160)
    if "Hand" in n:
        return 3.5, (225, 180, 150)
    return 4.0, (70, 100, 170)


_SKELETON_COLORS = {"Right": (235, 80, 80), "Left": (80, 140, 235)}


@dataclass(frozen=True)
class _Bone:
    parent: int
    child: int
    radius_cm: float
    rgb: tuple[int, int, int]


class MosaicRenderer:
    """Draws InHARD-style 2x2 mosaics of one recording.

    ``parents`` ``(J,)`` parent index of every joint (-1 for the root), ``joint_names`` the
    names (same order; End Sites ``"<Parent>_End"``) or None. ``scene`` defaults to
    :func:`scene_from_positions` of the first positions given to :meth:`render`. The static
    workcell of each camera is drawn once; :meth:`render` then draws bodies only.
    """

    def __init__(
        self,
        parents: Sequence[int],
        joint_names: Sequence[str] | None = None,
        *,
        scene: Scene,
        size_hw: tuple[int, int] = DEFAULT_MOSAIC_SIZE_HW,
        noise_std: float = 2.0,
        seed: int = 0,
    ) -> None:
        h, w = int(size_hw[0]), int(size_hw[1])
        if h < 8 or w < 8 or h % 2 or w % 2:
            raise ConfigError(f"mosaic size {size_hw!r}: both sides must be even and >= 8")
        self.size_hw = (h, w)
        self.view_hw = (h // 2, w // 2)
        self.parents = np.asarray(parents, dtype=np.int64)
        self.joint_names = None if joint_names is None else tuple(joint_names)
        if self.joint_names is not None and len(self.joint_names) != len(self.parents):
            raise ConfigError(f"{len(self.joint_names)} joint names for {len(self.parents)} parents")
        self.scene = scene
        self._rng = np.random.default_rng(seed)
        names = self.joint_names
        self._body: list[_Bone] = []
        self._sticks: list[_Bone] = []
        for j, p in enumerate(self.parents):
            if p < 0:
                continue
            name = None if names is None else names[j]
            style = _bone_style(name)
            if style is not None:
                self._body.append(_Bone(int(p), j, style[0], style[1]))
            side = "" if name is None else next((s for s in _SKELETON_COLORS if s in name), "")
            self._sticks.append(_Bone(int(p), j, 1.0, _SKELETON_COLORS.get(side, (235, 235, 235))))
        self._head = _index(names, "Head")
        self._hands = [i for i in (_index(names, "LeftHand"), _index(names, "RightHand")) if i is not None]
        c, f, l = scene.center_cm, scene.front, scene.left
        torso = c + 105 * _UP
        vh = self.view_hw
        d45 = (f + l) / np.sqrt(2), (f - l) / np.sqrt(2)
        self.cameras = {
            "top": look_at("top", c + _TOP_HEIGHT_CM * _UP + 30 * f, c + 30 * f, vh, up_hint=f),
            "left": look_at("left", c + 260 * d45[0] + 210 * _UP, torso, vh),
            "right": look_at("right", c + 260 * d45[1] + 210 * _UP, torso, vh),
            "skeleton": look_at("skeleton", c + 330 * f + 110 * _UP, c + 95 * _UP, vh, fov_deg=50),
        }
        walls = {"top": (150, 150, 140), "left": (170, 160, 140), "right": (140, 155, 170)}
        self._backgrounds = {v: _render_background(self.cameras[v], scene, vh, walls[v]) for v in walls}
        self._skeleton_bg = np.full(vh + (3,), (40, 40, 46), np.uint8)
        std = max(0.0, float(noise_std))
        self._noise = [np.clip(np.abs(self._rng.normal(0, std, (2,) + vh + (3,))), 0, 255).astype(np.uint8)
                       for _ in range(8)] if std > 0 else []

    # -- drawing
    def _draw_body(self, img: np.ndarray, cam: Camera, uv: np.ndarray, z: np.ndarray) -> None:
        """Shaded thick limbs far-to-near; ``uv (J, 2)``, ``z (J,)`` of one frame."""
        bones = self._body
        zb = np.array([(z[b.parent] + z[b.child]) / 2 for b in bones])
        zmin, zmax = float(z.min()), float(z.max())
        span = max(zmax - zmin, 1.0)
        pts = np.round(uv * _SCALE).astype(np.int64)
        prims = [(zb[k], "bone", bones[k]) for k in range(len(bones))]
        if self._head is not None:
            prims.append((z[self._head], "disc", (self._head, 10.0, (225, 180, 150))))
        for hnd in self._hands:
            prims.append((z[hnd], "disc", (hnd, 4.5, (215, 170, 140))))
        prims.sort(key=lambda p: -p[0])
        for depth, kind, item in prims:
            shade = 1.1 - 0.45 * (depth - zmin) / span  # far parts darker
            if kind == "bone":
                b = item
                thick = max(1, int(round(2 * b.radius_cm * cam.focal_px / depth)))
                a, e = tuple(map(int, pts[b.parent])), tuple(map(int, pts[b.child]))
                col = tuple(min(255.0, c * shade) for c in b.rgb)
                cv2.line(img, a, e, col, thick, cv2.LINE_AA, _SHIFT)
                if thick >= 3:  # highlight along the limb: a cylinder-like look
                    hi = tuple(min(255.0, c * shade * 1.35 + 20) for c in b.rgb)
                    cv2.line(img, a, e, hi, max(1, thick // 3), cv2.LINE_AA, _SHIFT)
            else:
                j, radius_cm, rgb = item
                r = max(1, int(round(radius_cm * cam.focal_px / depth * _SCALE)))
                col = tuple(min(255.0, c * shade) for c in rgb)
                cv2.circle(img, tuple(map(int, pts[j])), r, col, -1, cv2.LINE_AA, _SHIFT)

    def _draw_sticks(self, img: np.ndarray, uv: np.ndarray) -> None:
        pts = np.round(uv * _SCALE).astype(np.int64)
        for b in self._sticks:
            cv2.line(img, tuple(map(int, pts[b.parent])), tuple(map(int, pts[b.child])), b.rgb, 1,
                     cv2.LINE_AA, _SHIFT)
        for j in range(len(self.parents)):
            if self.joint_names is None or not any(w in self.joint_names[j] for w in _FINGER_WORDS):
                cv2.circle(img, tuple(map(int, pts[j])), 2 * _SCALE // 2, (250, 250, 120), -1,
                           cv2.LINE_AA, _SHIFT)

    def render(self, positions_cm: np.ndarray) -> np.ndarray:
        """Mosaics of ``positions_cm (N, J, 3)`` (world, cm, Y up): RGB ``uint8 (N, H, W, 3)``."""
        pos = np.asarray(positions_cm, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[1:] != (len(self.parents), 3):
            raise ConfigError(f"positions {pos.shape}: want (N, {len(self.parents)}, 3)")
        n = pos.shape[0]
        h, w = self.view_hw
        out = np.empty((n,) + self.size_hw + (3,), np.uint8)  # (N, H, W, 3)
        proj = {v: cam.project(pos) for v, cam in self.cameras.items()}  # (N, J, 2), (N, J)
        for i in range(n):
            for view, (r, c) in (("top", (0, 0)), ("left", (0, 1)), ("right", (1, 1))):
                img = self._backgrounds[view].copy()
                uv, z = proj[view]
                self._draw_body(img, self.cameras[view], uv[i], z[i])
                if self._noise:
                    noise = self._noise[int(self._rng.integers(len(self._noise)))]
                    cv2.add(img, noise[0], dst=img)
                    cv2.subtract(img, noise[1], dst=img)
                out[i, r * h:(r + 1) * h, c * w:(c + 1) * w] = img
            img = self._skeleton_bg.copy()
            self._draw_sticks(img, proj["skeleton"][0][i])
            out[i, h:, :w] = img
        return out


# ----------------------------------------------------------------------------- videos
def video_frame_times(n_motion_frames: int, frame_time_s: float, fps: float) -> np.ndarray:
    """Times in seconds ``(N,)`` of the video frames covering a motion of ``n_motion_frames``
    at ``frame_time_s``: ``k / fps`` for ``k < floor(n_motion_frames * frame_time_s * fps)``
    (at least one frame)."""
    n = max(1, int(np.floor(n_motion_frames * frame_time_s * fps + 1e-6)))
    return np.arange(n, dtype=np.float64) / fps


def positions_at_times(positions_cm: np.ndarray, frame_time_s: float, times_s: np.ndarray) -> np.ndarray:
    """Positions ``(F, J, 3)`` sampled at ``times_s (N,)`` by linear interpolation between
    motion frames (clamped at the ends): ``(N, J, 3)``."""
    pos = np.asarray(positions_cm, dtype=np.float64)
    x = np.clip(np.asarray(times_s, dtype=np.float64) / frame_time_s, 0, pos.shape[0] - 1)
    i0 = np.floor(x).astype(np.int64)
    i1 = np.minimum(i0 + 1, pos.shape[0] - 1)
    t = (x - i0)[:, None, None]
    return pos[i0] * (1 - t) + pos[i1] * t


def render_mosaic_video(
    positions_cm: np.ndarray,
    parents: Sequence[int],
    frame_time_s: float,
    out_path: str | Path,
    *,
    joint_names: Sequence[str] | None = None,
    fps: float = 25.0,
    size_hw: tuple[int, int] = DEFAULT_MOSAIC_SIZE_HW,
    noise_std: float = 2.0,
    seed: int = 0,
    chunk_frames: int = 250,
) -> VideoInfo:
    """Render motion ``positions_cm (F, J, 3)`` (one frame every ``frame_time_s`` s) as an
    InHARD mosaic MP4 at ``fps``; rendered and written ``chunk_frames`` at a time (flat
    memory). Returns the written file's VideoInfo."""
    pos = np.asarray(positions_cm, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[0] == 0:
        raise ConfigError(f"positions {pos.shape}: want (F, J, 3) with F >= 1")
    renderer = MosaicRenderer(parents, joint_names, scene=scene_from_positions(pos, joint_names),
                              size_hw=size_hw, noise_std=noise_std, seed=seed)
    times = video_frame_times(pos.shape[0], frame_time_s, fps)

    def frames() -> Iterable[np.ndarray]:
        for s in range(0, len(times), chunk_frames):
            yield from renderer.render(positions_at_times(pos, frame_time_s, times[s:s + chunk_frames]))

    return write_video(out_path, frames(), fps)


def write_segmented_clips(
    session_video: str | Path, segments: Iterable[Segment], out_dir: str | Path,
) -> list[Path]:
    """Cut ``segments`` out of a session mosaic video into InHARD's segmented layout:
    ``out_dir/<class_name>/<segment.name>.mp4`` (``out_dir`` is ``Segmented/RGBSegmented``),
    frames of ``rgb_start_s`` to ``rgb_end_s`` (end frame included) at the session's real
    fps, full mosaic. Segments of other sessions are an error. Returns the written paths."""
    session_video = Path(session_video)
    info = probe_video(session_video)
    session = session_video.stem
    written = []
    for seg in segments:
        if seg.session != session:
            raise VideoError(f"{session_video}: segment {seg.name} belongs to session {seg.session}")
        start, end = time_range_to_frames(info, seg.rgb_start_s, seg.rgb_end_s)
        frames = read_frames(session_video, start, end, view="full", size_hw=None, info=info)
        path = Path(out_dir) / seg.class_name / f"{seg.name}.mp4"
        write_video(path, frames, info.fps)
        written.append(path)
    return written


def render_session_video(
    clip: BvhClip,
    segments: Sequence[Segment],
    out_path: str | Path,
    fps: float = 25.0,
    *,
    size_hw: tuple[int, int] = DEFAULT_MOSAIC_SIZE_HW,
    seed: int = 0,
    segmented_dir: str | Path | None = None,
) -> VideoInfo:
    """Render a session's mosaic video from its BVH ``clip`` (the hook
    ``harnets_core.synth.sessions.render_session_video`` expects this signature).

    Joint positions come from :func:`harnets_core.features.kinematics.forward_kinematics`. With
    ``segmented_dir`` (``<root>/Segmented/RGBSegmented``) every segment is also cut into its
    segmented clip (:func:`write_segmented_clips`). Returns the session video's VideoInfo.
    """
    from harnets_core.features.kinematics import forward_kinematics

    skeleton = clip.skeleton
    positions = forward_kinematics(skeleton, clip.motion)  # (F, J, 3) cm
    parents = [j.parent for j in skeleton.joints]
    names = [j.name for j in skeleton.joints]
    info = render_mosaic_video(positions, parents, clip.frame_time_s, out_path, joint_names=names,
                               fps=fps, size_hw=size_hw, seed=seed)
    if segmented_dir is not None:
        write_segmented_clips(out_path, segments, segmented_dir)
    return info
