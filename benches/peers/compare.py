#!/usr/bin/env python3
"""Joins st-bench and peer JSON-lines output on case name into a Markdown table.

    python3 benches/peers/compare.py st.jsonl torch.jsonl

The ratio column is peer time / SpiralTorch time (above 1.0: SpiralTorch is faster). The peer
runs on the CPU, so only SpiralTorch's `cpu` records are joined; records of other backends
(`st-bench --backend all`) get a row of their own without a peer.
Standard library only.
"""

import json
import sys


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ours = records(argv[1])
    peer = {r["name"]: r for r in records(argv[2])}
    print("| case | threads | SpiralTorch | rate | peer | rate | peer / ours |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in ours:
        name = r["name"] if r["backend"] == "cpu" else f"{r['name']} ({r['backend']})"
        key = "gflops" if "gflops" in r else "gbps"
        unit = "GFLOP/s" if key == "gflops" else "GB/s"
        row = f"| {name} | {r['threads']} | {fmt_ns(r['median_ns'])} | {r[key]:.2f} {unit} |"
        p = peer.get(r["name"]) if r["backend"] == "cpu" else None
        if p is None:
            row += " — | — | — |"
        else:
            ratio = p["median_ns"] / r["median_ns"]
            row += f" {fmt_ns(p['median_ns'])} | {p[key]:.2f} {unit} | {ratio:.2f}× |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
