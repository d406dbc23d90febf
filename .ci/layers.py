#!/usr/bin/env python3
"""Checks that helsesim's modules form the layered tree README's "Architecture" section draws.

kernel   - shared types (clock, ids, jose, errors, auth, store primitives, ...): import only kernel
domain   - the national systems behind SFM and Kjernejournal: import kernel
services - helseid, sfm, kjernejournal, pts: import kernel and domain, never each other
platform - fixtures, state, journal, faults, admin, commands, startup: anything below them
and no import cycle between top-level modules at all. Test modules (`#[cfg(test)] mod tests`)
are not counted. Prints every breach and exits 1 when there is one.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
KERNEL = {
    "auth", "clock", "config", "errors", "fhir_r4", "ids", "jose", "keys", "limits", "random",
    "secret", "service", "store", "telemetry", "ui", "wire",
}
DOMAIN = {"national"}
SERVICES = {"helseid", "sfm", "kjernejournal", "pts"}


def layer(module):
    if module in KERNEL:
        return 0
    if module in DOMAIN:
        return 1
    if module in SERVICES:
        return 2
    return 3


def top_level_modules():
    names = set()
    for entry in os.listdir(ROOT):
        if entry in ("lib.rs", "main.rs"):
            continue
        if entry.endswith(".rs"):
            names.add(entry[:-3])
        elif os.path.isdir(os.path.join(ROOT, entry)):
            names.add(entry)
    return names


def strip_tests(text):
    """The text without its `#[cfg(test)] mod tests { ... }` block(s)."""
    out, at = [], 0
    for match in re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text):
        if match.start() < at:
            continue
        out.append(text[at:match.start()])
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out)


def group_heads(text, start):
    """The first path segment of each item of the `{...}` group opening at `start`."""
    depth, item, heads, i = 0, "", [], start
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                heads.append(item)
                break
        if depth == 1 and c == ",":
            heads.append(item)
            item = ""
        elif depth >= 1:
            item += c
        i += 1
    return {m.group(1) for h in heads if (m := re.match(r"\s*([a-z_][a-z0-9_]*)", h))}


def imports(text):
    found = set()
    for match in re.finditer(r"\bcrate::(\{|[a-z_][a-z0-9_]*)", text):
        if match.group(1) == "{":
            found |= group_heads(text, match.start(1))
        else:
            found.add(match.group(1))
    return found


def main():
    modules = top_level_modules()
    edges = {m: set() for m in modules}
    where = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, ROOT)
            top = relative.split(os.sep)[0].removesuffix(".rs")
            if top not in modules:
                continue
            with open(path, encoding="utf-8") as f:
                text = strip_tests(f.read())
            for target in imports(text) & modules - {top}:
                edges[top].add(target)
                where.setdefault((top, target), relative)
    breaches = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            file = where[(source, target)]
            if layer(target) > layer(source):
                breaches.append(f"{file}: {source} (layer {layer(source)}) imports {target} "
                                f"(layer {layer(target)}), a layer above it")
            elif source in SERVICES and target in SERVICES:
                breaches.append(f"{file}: the service {source} imports the service {target}")
    # Cycles: a depth-first search over the module graph.
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                breaches.append("import cycle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    for breach in breaches:
        print(breach)
    if breaches:
        print(f"{len(breaches)} breach(es) of the module layers (README: Architecture)")
        return 1
    print(f"module layers OK: {len(modules)} top-level modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
