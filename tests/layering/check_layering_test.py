#!/usr/bin/env python3
"""The layering check catches what it must: run over a fixture tree whose every crossing is
known, then over the repository (which must have none)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "..", "scripts", "check-layering")
want = {
    "src/a/a.cc:3: b/private.h",
    "src/a/angle.cc:2: b/private.h",
    "src/b/uses_mock.cc:2: providers/mock/world.h",
    "include/opsorch/pub.h:2: a/own.h",
    "sdk/plugin.cc:1: b/private.h",
    "sdk/plugin.cc:2: ../src/a/own.h",
    "tests/a/a_test.cc:3: b/private.h",
}
run = subprocess.run([sys.executable, script, os.path.join(here, "fixture")],
                     capture_output=True, text=True)
got = {":".join(line.split(":")[:3]) for line in run.stderr.splitlines() if line.count(":") >= 3}
ok = run.returncode == 1 and got == want
if not ok:
    print("fixture: exit", run.returncode, file=sys.stderr)
    print("missed:", sorted(want - got), file=sys.stderr)
    print("unexpected:", sorted(got - want), file=sys.stderr)
repo = subprocess.run([sys.executable, script, os.path.join(here, "..", "..")],
                      capture_output=True, text=True)
if repo.returncode != 0:
    print(repo.stderr, file=sys.stderr)
sys.exit(0 if ok and repo.returncode == 0 else 1)
