#!/usr/bin/env python3
"""Fails when a line of Rust source is over 100 characters (rustfmt's max_width).

rustfmt silently leaves an expression unformatted when it cannot fit one of its lines (a long
string literal, say), so `cargo fmt --check` passes on code it never formatted; this check
makes such a line visible. Counts characters, not bytes."""

import pathlib
import sys

MAX = 100
ROOT = pathlib.Path(__file__).resolve().parent.parent

too_long = []
for folder in ("src", "tests", "benches"):
    for path in sorted((ROOT / folder).rglob("*.rs")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line) > MAX:
                too_long.append(f"{path.relative_to(ROOT)}:{number}: {len(line)} characters")
for entry in too_long:
    print(entry)
if too_long:
    print(f"{len(too_long)} line(s) over {MAX} characters: break the literal (a `\\` continuation "
          "after a space keeps its value) or the comment")
    sys.exit(1)
print(f"no line over {MAX} characters")
