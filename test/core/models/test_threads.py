"""harnets_core.models.threads: a node process computes on the threads it is given."""
from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys, torch
from harnets_core.models.threads import limit_compute_threads
torch.set_num_threads(2)
print(limit_compute_threads(int(sys.argv[1])), torch.get_num_threads())
"""


@pytest.mark.parametrize("asked, expected", [(1, 1), (0, 2)])  # 0: the library's default stays
def test_limit_compute_threads_sets_torch_intra_op_threads(asked, expected):
    # in a process of its own: torch's thread count is global to the process
    out = subprocess.run([sys.executable, "-c", CODE, str(asked)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(expected), str(expected)]
