"""
timing.py - the Python benchmarks' one timing loop (bench_torch.py, compare_torch.py,
bench_second_order.py, train_step.py): warm-up calls, then the median of `iters` timings.
"""
import time

import torch


def median_ms(fn, iters, warmup=3, batch=1, cuda=True):
    """Milliseconds per call of fn: `warmup` untimed calls, then `iters` timings of `batch` calls
    back to back, CUDA events on the current stream (cuda) or the host clock; the upper median
    (ts[len // 2] of the sorted timings)."""
    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(batch):
                fn()
            b.record()
            b.synchronize()
            ts.append(a.elapsed_time(b) / batch)
        else:
            t0 = time.perf_counter()
            for _ in range(batch):
                fn()
            ts.append((time.perf_counter() - t0) * 1e3 / batch)
    ts.sort()
    return ts[len(ts) // 2]
