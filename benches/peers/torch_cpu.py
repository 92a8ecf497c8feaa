#!/usr/bin/env python3
"""PyTorch CPU peer of `st-bench`: the same case names, shapes, work counts and JSON fields.

Timing method (as in benches/src/lib.rs): run the case until the warm-up time has passed, derive
the per-call time, batch calls so one sample lasts about 10 ms, take enough samples for at least
--min-time seconds (never fewer than 5, at most 1000), report the median per-call time.

    python3 benches/peers/torch_cpu.py --json [--filter SUBSTR] [--threads N]

Needs `torch` (any recent CPU or CUDA build; only the CPU is used). Not run in CI.
"""

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

M = 1 << 20


def measure(fn, min_time, warmup=None, sample_target=0.010, min_samples=5, max_samples=1000):
    """Median seconds per call of `fn`, following st-bench's adaptive repetition."""
    warmup = min_time / 5 if warmup is None else warmup
    start = time.perf_counter()
    calls = 0
    while True:
        fn()
        calls += 1
        if time.perf_counter() - start >= warmup:
            break
    per_call = max((time.perf_counter() - start) / calls, 1e-9)
    iters = max(1, int(sample_target / per_call))
    wanted = math.ceil(min_time / (per_call * iters))
    samples = min(max(wanted, min_samples), max_samples)
    per_iter = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        per_iter.append((time.perf_counter() - t0) / iters)
    return statistics.median(per_iter)


def randn(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def inputs(shapes):
    return [randn(s, 17 + i) for i, s in enumerate(shapes)]


def case_matmul(shapes):
    a, b = inputs(shapes)
    return lambda: torch.matmul(a, b)


def case_add(shapes):
    a, b = inputs(shapes)
    return lambda: torch.add(a, b)


def case_add_inplace(shapes):
    a, b = inputs(shapes)
    return lambda: a.add_(b)


def case_sgd_update(shapes):
    n = len(shapes) // 2
    xs = inputs(shapes)
    params = [torch.nn.Parameter(x) for x in xs[:n]]
    for p, g in zip(params, xs[n:]):
        p.grad = g
    opt = torch.optim.SGD(params, lr=1e-3, foreach=True)
    return opt.step


def case_sum(shapes):
    (a,) = inputs(shapes)
    return lambda: torch.sum(a)


def case_softmax(shapes):
    (a,) = inputs(shapes)
    return lambda: torch.softmax(a, dim=-1)


def case_conv2d(shapes):
    x, w = inputs(shapes)
    return lambda: F.conv2d(x, w, None, stride=1, padding=1)


def train_step(model, shapes):
    """One SGD-momentum step of `model` on a fixed batch: forward, cross entropy, backward,
    step (the st-bench case of the same name)."""
    x = randn(shapes[0], 17)
    y = torch.randint(0, 10, (shapes[0][0],), generator=torch.Generator().manual_seed(18))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def case_mlp(shapes):
    torch.manual_seed(1)
    nn = torch.nn
    return train_step(nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), shapes)


def case_cnn(shapes):
    torch.manual_seed(1)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    return train_step(model, shapes)


def matmul(name, n):
    return (name, [[n, n], [n, n]], ("gflops", 2.0 * n**3), case_matmul)


def add(name, n):
    return (name, [[n], [n]], ("gbps", 12.0 * n), case_add)


# (name, input shapes, (rate key, work per call), builder) in st-bench's order. PyTorch has no
# event bus, so add_f32_1_subscribed has no peer.
CASES = [
    matmul("matmul_f32_256", 256),
    matmul("matmul_f32_1024", 1024),
    matmul("matmul_f32_2048", 2048),
    add("add_f32_1", 1),
    add("add_f32_1m", M),
    add("add_f32_16m", 16 * M),
    ("add_inplace_f32_16m", [[16 * M], [16 * M]], ("gbps", 12.0 * 16 * M), case_add_inplace),
    ("sgd_update_f32_1m", [[100_000]] * 20, ("gbps", 12.0 * 10 * 100_000), case_sgd_update),
    ("sum_f32_16m", [[16 * M]], ("gbps", 4.0 * 16 * M), case_sum),
    ("softmax_f32_1024x1024", [[1024, 1024]], ("gbps", 8.0 * 1024 * 1024), case_softmax),
    (
        "conv2d_f32_n8_c64_h56_k3",
        [[8, 64, 56, 56], [64, 64, 3, 3]],
        ("gflops", 2.0 * 8 * 64 * 64 * 3 * 3 * 56 * 56),
        case_conv2d,
    ),
    ("mlp_train_step_f32_bs64", [[64, 784]], ("samples_per_sec", 64.0), case_mlp),
    ("mlp_train_step_f32_bs256", [[256, 784]], ("samples_per_sec", 256.0), case_mlp),
    ("cnn_train_step_f32_bs32", [[32, 1, 28, 28]], ("samples_per_sec", 32.0), case_cnn),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--filter", default=None, help="only cases whose name contains this")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: all cores)")
    ap.add_argument("--min-time", type=float, default=0.5, help="minimum measured seconds per case")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    args = ap.parse_args()

    cases = [c for c in CASES if args.filter is None or args.filter in c[0]]
    if args.list:
        for c in cases:
            print(c[0])
        return 0
    if not cases:
        print(f"torch_cpu.py: no case matches {args.filter!r}", file=sys.stderr)
        return 1
    threads = args.threads if args.threads is not None else os.cpu_count()
    if threads < 1:
        print("torch_cpu.py: --threads must be at least 1", file=sys.stderr)
        return 1
    torch.set_num_threads(threads)
    threads = torch.get_num_threads()

    for name, shapes, (key, work), build in cases:
        # Training steps need autograd; every other case runs without it.
        mode = contextlib.nullcontext() if key == "samples_per_sec" else torch.inference_mode()
        with mode:
            fn = build(shapes)
            sec = measure(fn, args.min_time)
        ns = sec * 1e9
        rate = work * 1e9 / ns if key == "samples_per_sec" else work / ns
        if args.json:
            rec = {
                "name": name,
                "backend": "torch-cpu",
                "dtype": "f32",
                "shape": shapes,
                "threads": threads,
                "median_ns": round(ns, 1),
                key: round(rate, 3),
            }
            print(json.dumps(rec), flush=True)
        else:
            unit = {"gflops": "GFLOP/s", "gbps": "GB/s"}.get(key, "samples/s")
            print(f"{name:<28} {threads:>4} thr  {ns:>12.1f} ns  {rate:>9.2f} {unit}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
