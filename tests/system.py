"""Programs from Debian packages that some tests drive for real (BIND, Unbound, Chromium).

A missing program skips its tests on a developer's machine; with ``TAKEDOWN_REQUIRE_TOOLS=1``
(set by CI, which installs them) it fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Debian installs daemons in /usr/sbin, which is not on every user's PATH.
SBIN = ("/usr/sbin", "/usr/local/sbin")


def tool(name: str, package: str) -> str:
    """The path of the program ``name``; skips (or fails in CI) when it is not installed."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if found:
        return found
    reason = f"{name} is not installed (Debian package {package})"
    if os.environ.get("TAKEDOWN_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason}, and TAKEDOWN_REQUIRE_TOOLS=1 requires it")
    pytest.skip(reason)
