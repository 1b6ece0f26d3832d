#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that a Markdown document shows each given source file verbatim in
a ```c block right after a line `<!-- file: NAME -->`. Keeps the tutorial's
code identical to code the build compiles. The file's SPDX line is not
shown (it is licence boilerplate, not part of the lesson)."""
import os
import re
import sys

doc, files = sys.argv[1], sys.argv[2:]
text = open(doc, encoding="utf-8").read()
failed = 0
for f in files:
    name = os.path.basename(f)
    m = re.search(r"<!-- file: " + re.escape(name) + r" -->\n```c\n(.*?)```", text, re.S)
    src = re.sub(r"\A/\* SPDX-License-Identifier: [^*]*\*/\n", "", open(f, encoding="utf-8").read())
    if not m:
        print(f"FAILED: {doc} does not show {name}")
        failed += 1
    elif m.group(1) != src:
        print(f"FAILED: {doc} shows a different {name} than the compiled file")
        failed += 1
    else:
        print(f"ok: {name}")
sys.exit(1 if failed else 0)
