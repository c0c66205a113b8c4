"""bench/timeline_eval.py runs the recognizer over whole sessions and scores filters (plumbing,
an untrained model: the numbers are not checked, their presence and consistency are)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("timeline_eval", ROOT / "bench" / "timeline_eval.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["timeline_eval"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_timeline_eval_scores_every_filter_on_every_session(synth_root, forecasting_skeleton_model, tmp_path, capsys):
    mod = _module()
    out = tmp_path / "r.json"
    assert mod.main(["--data", str(synth_root), "--model", str(forecasting_skeleton_model), "--sessions", "P01_R02",
                     "--train-sessions", "P01_R01", "P03_R01", "--filter", "none", "model", "hsmm:eps=0.2",
                     "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| none | P01_R02 |" in table and "| hsmm:eps=0.2 | mean |" in table
    res = json.loads(out.read_text())
    assert set(res) == {"none", "model", "hsmm:eps=0.2"}
    for row in res.values():
        s = row["sessions"]["P01_R02"]
        assert 0.0 <= s["acc"] <= 1.0 and s["n_next"] > 0  # transitions of the session were scored
        assert row["mean"]["acc"] == s["acc"]  # one session: the mean is that session
