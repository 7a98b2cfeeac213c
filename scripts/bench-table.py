#!/usr/bin/env python3
"""Prints a Markdown table of the goals in the newest result of each scenario run under bench/results/.

    python3 scripts/bench-table.py [results-dir]

A scenario run with different parameters (for example connections on 1 and on 6 edges, with and without TLS) counts
as its own row group; the newest file of each group wins.
"""
import glob
import json
import os
import sys

directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "bench", "results")
newest = {}
for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
    with open(path) as f:
        result = json.load(f)
    p = result["parameters"]
    key = (result["scenario"], p.get("edges"), p.get("tls"), p.get("encoding"), p.get("devices"))
    newest[key] = (path, result)

print("| Scenario | Goal | Target | Measured | Met | Result file |")
print("|---|---|---|---|---|---|")
for key in sorted(newest, key=lambda k: tuple(str(x) for x in k)):
    path, result = newest[key]
    for goal in result["goals"]:
        measured = goal["measured"]
        text = f"{measured:,.2f}" if measured != int(measured) else f"{int(measured):,}"
        print(f"| {result['scenario']} | {goal['name']} | {goal['target']} | {text} | {'yes' if goal['met'] else '**no**'} "
              f"| `{os.path.relpath(path, os.path.join(directory, '..', '..'))}` |")
