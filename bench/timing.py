"""
timing.py - the Python benchmarks' timing loops: median_ms (bench_torch.py, compare_torch.py,
bench_second_order.py, train_step.py: warm-up calls, then the median of `iters` timings) and host_us
(bench_host.py: a host clock's best and median).
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


def host_us(fn, iters, batch, sync, clock=time.perf_counter):
    """(best, median) microseconds per call of fn on a host clock (time.perf_counter, or
    time.thread_time for this thread's CPU time): one untimed batch, then `iters` timings of `batch`
    calls each ended by sync(). The best is the steadier figure on a shared machine (other work only
    adds time)."""
    for _ in range(batch):
        fn()
    sync()
    ts = []
    for _ in range(iters):
        t0 = clock()
        for _ in range(batch):
            fn()
        sync()
        ts.append((clock() - t0) * 1e6 / batch)
    ts.sort()
    return ts[0], ts[len(ts) // 2]
