#!/usr/bin/env python3
"""Joins st-bench and peer JSON-lines output on case name into a Markdown table.

    python3 benches/peers/compare.py st.jsonl torch.jsonl

The ratio column is peer time / SpiralTorch time (above 1.0: SpiralTorch is faster).
Standard library only.
"""

import json
import sys


def load(path):
    with open(path) as f:
        return {r["name"]: r for r in map(json.loads, filter(str.strip, f))}


def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ours, peer = load(argv[1]), load(argv[2])
    print("| case | threads | SpiralTorch | rate | peer | rate | peer / ours |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in ours.items():
        key = "gflops" if "gflops" in r else "gbps"
        unit = "GFLOP/s" if key == "gflops" else "GB/s"
        row = f"| {name} | {r['threads']} | {fmt_ns(r['median_ns'])} | {r[key]:.2f} {unit} |"
        p = peer.get(name)
        if p is None:
            row += " — | — | — |"
        else:
            ratio = p["median_ns"] / r["median_ns"]
            row += f" {fmt_ns(p['median_ns'])} | {p[key]:.2f} {unit} | {ratio:.2f}× |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
