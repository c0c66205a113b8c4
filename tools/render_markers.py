#!/usr/bin/env python3
"""Draw what the visualization node's markers show, without RViz: the bones and the label of
one BVH frame, from the same harnets_core.visualization scene the node turns into its
MarkerArray (LINE_LIST points turned by the pose orientation, TEXT_VIEW_FACING at the label
position, the class colour), as a matplotlib 3D plot in the frame's Z-up axes, in metres.

    python tools/render_markers.py --out docs/img/markers.png \
        --next "Take component" --next-probability 0.62 --remaining-s 1.2 3.1 5.0   # the README's picture

The label and confidence are what you pass (default: the clip's own class, Assemble system),
and so is the forecast line under it (``--next``: the node's text for an ActivityForecast,
harnets_core.visualization.forecast_text); nothing is recognized here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from harnets_core.formats.bvh import read_bvh  # noqa: E402
from harnets_core.visualization.forecast_text import ReceivedForecast, forecast_lines  # noqa: E402
from harnets_core.visualization.markers import SkeletonView, class_color, label_text  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def quaternion_matrix(xyzw: tuple[float, float, float, float]) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion (x, y, z, w), as RViz applies a marker's pose orientation."""
    x, y, z, w = xyzw
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def render(bvh: Path, frame: int, label: str, confidence: float, class_id: int, out: Path,
           template: Path | None = None, forecast: ReceivedForecast | None = None) -> Path:
    clip = read_bvh(bvh)
    view = SkeletonView.from_bvh(template)  # the node's default: the bundled InHARD template
    scene = view.scene(clip.motion[frame].astype(np.float32))  # a SkeletonFrame carries float32
    color = class_color(class_id, label)
    points = scene.line_points_m @ quaternion_matrix(scene.orientation_xyzw).T  # (2B, 3) in the frame
    background, ink = (48 / 255, 48 / 255, 48 / 255), "#d0d0d0"  # RViz's default background
    fig = plt.figure(figsize=(5.6, 6.0), dpi=100, facecolor=background)
    ax = fig.add_subplot(projection="3d", facecolor=background)
    centre = points.mean(axis=0)
    half = 0.6  # metres around the body's centre on the floor
    lo, hi = centre[:2] - half, centre[:2] + half
    for v in np.arange(np.ceil(lo.min() * 4) / 4, hi.max(), 0.25):  # a floor grid, 0.25 m cells
        if lo[0] <= v <= hi[0]:
            ax.plot([v, v], [lo[1], hi[1]], [0, 0], color="#808080", linewidth=0.5)
        if lo[1] <= v <= hi[1]:
            ax.plot([lo[0], hi[0]], [v, v], [0, 0], color="#808080", linewidth=0.5)
    for a, b in points.reshape(-1, 2, 3):
        ax.plot(*zip(a, b), color=color[:3], linewidth=2.2)
    ax.text(*scene.label_position_m, label_text(label, confidence, forecast_lines(forecast) if forecast else ()),
            color=color[:3], fontsize=12, ha="center", va="bottom", weight="bold", linespacing=1.3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(0.0, 2.2)
    ax.set_box_aspect((2 * half, 2 * half, 2.2))
    for axis, name in ((ax.xaxis, "x (m)"), (ax.yaxis, "y (m)"), (ax.zaxis, "z (m)")):
        axis.set_pane_color((*background, 1.0))
        axis.label.set_text(name)
        axis.label.set_color(ink)
        axis.set_tick_params(colors=ink, labelsize=7)
        axis.set_major_locator(matplotlib.ticker.MultipleLocator(0.5))
    ax.view_init(elev=14, azim=25)
    ax.set_title(f"{bvh.name}, frame {frame}: {len(points) // 2} bones (LINE_LIST) and the label (TEXT_VIEW_FACING)",
                 fontsize=8, color=ink)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bvh", type=Path, default=REPO / "test" / "data" / "P01_R01_0026.48_0028.80.bvh")
    p.add_argument("--frame", type=int, default=138)
    p.add_argument("--label", default="Assemble system")
    p.add_argument("--confidence", type=float, default=0.87)
    p.add_argument("--class-id", type=int, default=11, help="class id (colour); InHARD: Assemble system = 11")
    p.add_argument("--template", type=Path, default=None, help="skeleton BVH (the node's skeleton_bvh); default the InHARD template")
    p.add_argument("--next", default="", help="forecast: the next activity (empty: no forecast line)")
    p.add_argument("--next-probability", type=float, default=0.6, help="forecast: its probability")
    p.add_argument("--remaining-s", type=float, nargs=3, default=(1.0, 3.0, 5.0), metavar=("P10", "P50", "P90"),
                   help="forecast: remaining time of the current activity, seconds")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "markers.png")
    args = p.parse_args()
    forecast = (ReceivedForecast("skeleton", args.class_id, 0.0, tuple(args.remaining_s), (args.next,), (args.next_probability,))
                if args.next else None)
    print(render(args.bvh, args.frame, args.label, args.confidence, args.class_id, args.out, args.template, forecast))


if __name__ == "__main__":
    main()
