"""Headless Chromium for the dashboard's browser tests and first-paint benchmark.

Debian's `chromium` package, never a downloaded browser build. The flags keep it from reaching
for Google's hosts (refused on a closed network) and from needing a sandbox or a GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = "needs /usr/bin/chromium (apt-get install chromium chromium-driver)"


def launch(playwright: Any) -> Any:
    """A Playwright browser on Debian's Chromium."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
