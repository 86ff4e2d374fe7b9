#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""side_by_side.py A.json B.json ... : vu-probe --json results of several
back-ends as one markdown table, a row per check, a column per back-end
(verdict, and the answer when it is not ok / refused).  --diff keeps only
the rows where the back-ends do not all agree."""
import json
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
only_diff = "--diff" in sys.argv
runs = [(a.rsplit("/", 1)[-1].rsplit(".", 1)[0], json.load(open(a))) for a in args]
rows, cells = [], {}
for name, d in runs:
    seen = {}
    for r in d["results"]:
        key = (r["request"], r["check"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = (r["request"], r["check"] + " (%d)" % seen[key])
        if key not in cells:
            rows.append(key)
            cells[key] = {}
        v = r["verdict"]
        if v not in ("ok", "refused as documented"):
            v = "**%s**: %s" % (v, r["answered"])
        cells[key][name] = v
print("| request | check | " + " | ".join(n for n, _ in runs) + " |")
print("|---|---|" + "---|" * len(runs))
for key in rows:
    vals = [cells[key].get(n, "not run") for n, _ in runs]
    if only_diff and len(set(vals)) == 1:
        continue
    print("| %s | %s | %s |" % (key[0], key[1], " | ".join(vals)))
