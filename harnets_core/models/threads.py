"""How many CPU threads one process's model inference may use.

A node process that runs a small model at a high rate (the 120 Hz skeleton LSTM, a camera
CNN at 10 Hz) beside other such processes on a few cores should compute on ONE thread: with
torch's default (one intra-op thread per core) every process's thread pool competes for
every core, and the pools' busy-waiting after each parallel region takes the CPU the other
node needs. Measured on 2 cores with the skeleton and image nodes at once (bench_streaming,
docs/BENCHMARKS.md "Latency tail"): skeleton latency p95 169-1218 ms with torch's default,
22-25 ms with one thread.
"""
from __future__ import annotations

__all__ = ["limit_compute_threads"]


def limit_compute_threads(threads: int) -> int:
    """torch's intra-op threads of this process (`threads` > 0; 0 leaves torch's default);
    returns the number in use. (onnxruntime takes its own: load_recognizer's ``threads``.)"""
    import torch

    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()
