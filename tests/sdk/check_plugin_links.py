#!/usr/bin/env python3
"""A plugin built on the SDK needs only the C++ runtime and Boost.JSON (with Boost.Container, which
it uses in unoptimised builds) at run time: no logging,
HTTP, database, crypto or curl library of the server leaks into it through the SDK target.
Usage: check_plugin_links.py PLUGIN_BINARY"""
import re
import subprocess
import sys

ALLOWED = re.compile(
    r"^(libboost_json\.so\..*|libboost_container\.so\..*|libstdc\+\+\.so\..*|libm\.so\..*|libgcc_s\.so\..*|libc\.so\..*"
    r"|ld-linux.*|lib(a|ub|t)san\.so\..*)$")

out = subprocess.run(["readelf", "-d", sys.argv[1]], capture_output=True, text=True, check=True)
needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)
extra = [lib for lib in needed if not ALLOWED.match(lib)]
if not needed:
    print(f"{sys.argv[1]}: no dynamic dependencies found; is it a dynamic executable?",
          file=sys.stderr)
    sys.exit(1)
if extra:
    print(f"{sys.argv[1]} needs libraries a plugin should not: {', '.join(extra)}",
          file=sys.stderr)
    sys.exit(1)
print("plugin links: " + ", ".join(needed))
