#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the habits of a library people can pick up: a licence file that
matches meson.build, an SPDX line in every source file, no generated files
in git, a changelog entry for the version being built, a contributing
guide and a .clang-format. Usage: check-hygiene.py [SOURCE_ROOT]"""
import os
import re
import subprocess
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
os.chdir(root)
failed = 0


def check(name, ok, detail=""):
    global failed
    print(f"{'ok' if ok else 'FAILED'}: {name}{'' if ok else ' ' + detail}")
    failed += not ok


def tracked():
    try:
        return subprocess.check_output(["git", "ls-files"], text=True, stderr=subprocess.DEVNULL).split()
    except (OSError, subprocess.CalledProcessError):  # a tarball: every file is "tracked"
        out = []
        for d, dirs, names in os.walk("."):
            dirs[:] = [x for x in dirs if not x.startswith(("build", ".", "node_modules"))]
            out += [os.path.relpath(os.path.join(d, n)) for n in names]
        return out


def needs_spdx(f):
    b = os.path.basename(f)
    if f.startswith("tests/fuzz/corpus/") or b.endswith(".json"):
        return False
    return (os.path.splitext(b)[1] in (".c", ".h", ".S", ".py", ".sh", ".mjs", ".js", ".css", ".html")
            or b.endswith(".h.in") or b in ("meson.build", "meson_options.txt") or f == ".ci/run")


files = tracked()
meson = open("meson.build").read()
lic = re.search(r"license\s*:\s*'([^']+)'", meson)
text = open("LICENSE").read() if os.path.exists("LICENSE") else ""
check("LICENSE exists and is the licence meson.build names",
      bool(lic) and lic.group(1) == "MIT" and text.startswith("MIT License"), f"meson says {lic and lic.group(1)}")
missing = [f for f in files if needs_spdx(f) and os.path.exists(f)
           and not any("SPDX-License-Identifier: MIT" in l for l in open(f, errors="replace").readlines()[:3])]
check("every source file has an SPDX-License-Identifier line", not missing, ", ".join(missing[:10]))
generated = [f for f in files if re.search(r"\.log$|(^|/)meson-logs/|(^|/)node_modules/|\.o$|^build[^/]*/", f)]
check("no generated files are tracked", not generated, ", ".join(generated[:10]))
version = re.search(r"version\s*:\s*'([^']+)'", meson).group(1)
log = open("CHANGELOG.md").read() if os.path.exists("CHANGELOG.md") else ""
check(f"CHANGELOG.md has an entry for {version} and states the versioning rule",
      f"## [{version}]" in log and "soname" in log)
check("CONTRIBUTING.md exists", os.path.exists("CONTRIBUTING.md"))
check(".clang-format exists", os.path.exists(".clang-format"))
print(f"{6 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
