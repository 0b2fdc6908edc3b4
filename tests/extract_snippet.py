#!/usr/bin/env python3
"""extract_snippet.py DOC.md OUT: write the ```c blocks of DOC.md to OUT,
so that the documentation's examples are compiled and run by the tests."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"^```c\n(.*?)^```", text, flags=re.S | re.M)
if not blocks:
    sys.exit("%s: no ```c block" % sys.argv[1])
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("/* generated from %s: do not edit */\n" % sys.argv[1])
    out.write("\n".join(blocks))
