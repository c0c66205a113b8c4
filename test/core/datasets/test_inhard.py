"""harnets_core.datasets.inhard: annotation variants, names, layout, splits, scenarios, classes."""
from __future__ import annotations

from pathlib import Path

import pytest

from harnets_core.errors import ConfigError, DatasetError
from harnets_core.datasets.inhard import (
    ACTION_LABELS,
    EXPERT_SESSIONS,
    META_ACTIONS,
    OFFICIAL_TRAIN,
    OFFICIAL_VALIDATION,
    InhardLayout,
    Segment,
    action_labels_of,
    parse_segment_name,
    read_annotations,
    scenario_filter,
    segment_name,
    select_classes,
    split_sessions,
    subject_of,
)

README_HEADER = (
    "File_name,Subject,Operation,Action_label,Meta_action_number,Meta_action_label,"
    "Action_start_bvh_frame,Action_end_bvh_frame,Action_start_rgb_sec,Action_end_rgb_sec,"
    "Action_start_rgb_frame,Action_end_rgb_frame,Duration_sec\n"
)
README_ROW = (
    "P01_R01, P01, OP010, [OP010] Place FIXA1 on LARD at 160mm, 12, Assemble system, "
    "3151, 3428, 26.48, 28.80, 662, 720, 2.32\n"
)


def _write(tmp_path: Path, text: str, name: str = "InHARD.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_meta_actions_and_action_list() -> None:
    assert len(META_ACTIONS) == 14
    assert META_ACTIONS[0] == "No action" and META_ACTIONS[11] == "Assemble system"
    assert META_ACTIONS[13] == "Put down subsystem"
    assert len(ACTION_LABELS) == 74
    assert "Screw FIXA1 with B820" in action_labels_of("Assemble system")
    assert action_labels_of(1) == ("Consult sheets",)


def test_readme_example_row(tmp_path: Path) -> None:
    (seg,) = read_annotations(_write(tmp_path, README_HEADER + README_ROW))
    assert seg == Segment(
        session="P01_R01", subject="P01", operation="OP010",
        action_label="[OP010] Place FIXA1 on LARD at 160mm", class_id=11,
        class_name="Assemble system", bvh_start_frame=3151, bvh_end_frame=3428,
        rgb_start_s=26.48, rgb_end_s=28.80, rgb_start_frame=662, rgb_end_frame=720,
        duration_s=2.32,
    )  # fmt: skip
    assert seg.name == "P01_R01_0026.48_0028.80"
    assert seg.n_bvh_frames == 278


def test_variant_columns_reordered_index_recurrence(tmp_path: Path) -> None:
    text = (
        ",Recurrence,File,Subject,Operation,Action_label,Meta_action_class_number,"
        "Meta_action_label,Action_start_bvh_frame,Action_end_bvh_frame,Action_start_rgb_sec,"
        "Action_end_rgb_sec,Action_start_rgb_frame,Action_end_rgb_frame,Duration_sec\n"
        "0,1,P01_R01,P01,OP010,No action,0,No action,0,300,0.00,2.52,0,63,2.52\n"
        '1,2,P01_R01,P01,OP010,"[OP010] Catch Bolt, B820",10,Take component,'
        "301,500,2.52,4.20,63,105,1.68\n"
        "2,1,P01_R01,P01,OP020,Consult sheets,2,Consult sheets,501,900,4.20,7.56,105,189,3.36\n"
    )
    segs = read_annotations(_write(tmp_path, text))
    assert [s.class_id for s in segs] == [0, 9, 1]
    assert [s.class_name for s in segs] == ["No action", "Take component", "Consult sheets"]
    assert [s.recurrence for s in segs] == [1, 2, 1]
    assert segs[1].action_label == "[OP010] Catch Bolt, B820"
    assert segs[2].bvh_end_frame == 900


def test_label_number_mismatch_names_file_and_line(tmp_path: Path) -> None:
    bad = README_ROW.replace("12, Assemble system", "11, Assemble system")
    path = _write(tmp_path, README_HEADER + README_ROW + bad)
    with pytest.raises(DatasetError, match=r"InHARD\.csv:3: .*'Put down component'"):
        read_annotations(path)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (README_ROW.replace("3151", "abc"), r":2: .*could not convert"),
        (README_ROW.replace(" 12,", " 15,"), r":2: Meta_action_number = 15"),
        (README_ROW.replace("3428", "3000"), r":2: BVH frames 3151\.\.3000"),
        ("P01_R01, P01\n", r":2: row has 2 fields"),
    ],
)
def test_bad_rows(tmp_path: Path, row: str, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        read_annotations(_write(tmp_path, README_HEADER + row))


def test_missing_column_and_file(tmp_path: Path) -> None:
    header = README_HEADER.replace("Meta_action_number,", "")
    with pytest.raises(DatasetError, match=r":1: missing column\(s\) Meta_action_number/"):
        read_annotations(_write(tmp_path, header + README_ROW))
    with pytest.raises(DatasetError, match="nope.csv: annotation file not found"):
        read_annotations(tmp_path / "nope.csv")


def test_segment_names() -> None:
    assert parse_segment_name("P01_R01_0026.48_0028.80") == ("P01_R01", 26.48, 28.80)
    assert parse_segment_name(Path("x/Assemble system/P01_R01_0026.48_0028.80.bvh")) == (
        "P01_R01", 26.48, 28.80)  # fmt: skip
    assert segment_name("P12_R02", 3.5, 123.456) == "P12_R02_0003.50_0123.46"
    assert parse_segment_name("P12_R02_0003.50_12345.00")[2] == 12345.0
    with pytest.raises(DatasetError, match="not a segmented InHARD name"):
        parse_segment_name("P01_R01.bvh")


def test_official_split() -> None:
    assert len(OFFICIAL_TRAIN) == 26 and len(set(OFFICIAL_TRAIN)) == 26
    assert len(OFFICIAL_VALIDATION) == 12 and len(set(OFFICIAL_VALIDATION)) == 12
    assert not set(OFFICIAL_TRAIN) & set(OFFICIAL_VALIDATION)
    assert len(EXPERT_SESSIONS) == 13
    assert len(EXPERT_SESSIONS & set(OFFICIAL_TRAIN)) == 9
    train, val = split_sessions([*OFFICIAL_VALIDATION, *OFFICIAL_TRAIN])
    assert train == sorted(OFFICIAL_TRAIN) and val == sorted(OFFICIAL_VALIDATION)
    assert split_sessions(["P02_R01", "P01_R01"]) == (["P01_R01"], ["P02_R01"])
    with pytest.raises(ConfigError, match="P99_R01"):
        split_sessions(["P01_R01", "P99_R01"])
    with pytest.raises(ConfigError, match="split scheme 'random'"):
        split_sessions(["P01_R01"], "random")


@pytest.mark.parametrize("k", [2, 3, 5])
def test_subject_folds_disjoint_by_subject(k: int) -> None:
    sessions = [*OFFICIAL_TRAIN, *OFFICIAL_VALIDATION]
    seen_val: set[str] = set()
    for i in range(k):
        train, val = split_sessions(sessions, f"subject-fold:{k}:{i}")
        assert sorted(train + val) == sorted(sessions)
        assert val, "every fold has validation sessions"
        assert not {subject_of(s) for s in train} & {subject_of(s) for s in val}
        assert not seen_val & set(val)
        seen_val |= set(val)
    assert seen_val == set(sessions)
    with pytest.raises(ConfigError, match="0 <= I < K"):
        split_sessions(sessions, f"subject-fold:{k}:{k}")


def _seg(session: str, class_id: int, duration_s: float) -> Segment:
    return Segment(
        session=session, subject=subject_of(session), operation="OP010", action_label="x",
        class_id=class_id, class_name=META_ACTIONS[class_id], bvh_start_frame=0,
        bvh_end_frame=int(duration_s * 119), rgb_start_s=0.0, rgb_end_s=duration_s,
        rgb_start_frame=0, rgb_end_frame=int(duration_s * 25), duration_s=duration_s,
    )  # fmt: skip


def test_scenarios() -> None:
    segs = [_seg("P01_R01", 11, 5.0), _seg("P01_R01", 5, 1.2), _seg("P01_R01", 1, 3.0)]
    assert [s.duration_s for s in scenario_filter(segs, "SA")] == [1.2]
    assert [s.duration_s for s in scenario_filter(segs, "LA")] == [5.0, 3.0]
    assert [s.duration_s for s in scenario_filter(segs, "la", threshold_s=4.0)] == [5.0]
    assert len(scenario_filter(segs, "all")) == 3
    with pytest.raises(ConfigError, match="scenario 'XL'"):
        scenario_filter(segs, "XL")


def test_select_classes() -> None:
    segs = (
        [_seg("P01_R01", 11, 5.0)] * 5 + [_seg("P01_R01", 5, 1.0)] * 3
        + [_seg("P01_R01", 1, 3.0)] * 3 + [_seg("P02_R01", 1, 3.0)] * 9
    )  # fmt: skip
    assert select_classes(segs).class_ids == (1, 5, 11)
    sel = select_classes(segs, ["Picking in front", 11])
    assert sel.class_ids == (5, 11) and sel.class_names == ("Picking in front", "Assemble system")
    assert len(sel.segments) == 8
    # counted on train sessions only: 11 (5) > 1 == 5 (3, tie -> lower id)
    assert select_classes(segs, class_limit=2, count_sessions={"P01_R01"}).class_ids == (1, 11)
    assert select_classes(segs, class_limit=1).class_ids == (1,)
    with pytest.raises(ConfigError, match="unknown meta-action 'Dance'"):
        select_classes(segs, ["Dance"])


def test_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="InHARD root folder not found"):
        InhardLayout(tmp_path / "missing")
    lay = InhardLayout(tmp_path)
    with pytest.raises(DatasetError, match=r"Online/Labels/InHARD\.csv"):
        lay.annotations_path()
    (tmp_path / "Segmented" / "Labels").mkdir(parents=True)
    _write(tmp_path / "Segmented" / "Labels", README_HEADER + README_ROW)
    (seg,) = lay.annotations()
    assert lay.sessions() == ["P01_R01"]
    with pytest.raises(DatasetError, match=r"Online/Skeleton/P01_R01\.bvh: session BVH not found"):
        lay.session_bvh("P01_R01")
    with pytest.raises(DatasetError, match=r"SkletonSegmented/Assemble system/P01_R01_0026"):
        lay.segmented_bvh(seg)
    clip = tmp_path / "Segmented" / "SkletonSegmented" / "Assemble system" / f"{seg.name}.bvh"
    clip.parent.mkdir(parents=True)
    clip.write_text("HIERARCHY\n")
    assert lay.segmented_bvh(seg) == clip
    assert lay.segmented_files() == [("Assemble system", clip)]
    (tmp_path / "Online" / "Skeleton").mkdir(parents=True)
    (tmp_path / "Online" / "Skeleton" / "P02_R01.bvh").write_text("")
    assert lay.sessions() == ["P02_R01"]
    assert lay.session_bvh("P02_R01").name == "P02_R01.bvh"
    with pytest.raises(DatasetError, match=r"Online/RGB/P02_R01\.mp4"):
        lay.session_video("P02_R01")
