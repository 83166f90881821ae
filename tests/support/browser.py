"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver`` packages) driven
through chromedriver by Selenium, for the review page's test and its screenshot script
(examples/serve_screenshot.py). Nothing is downloaded: the browser and driver are the system's,
with a fresh profile and its background network features off."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def missing() -> str | None:
    """Why the browser cannot run here, or ``None`` when it can."""
    for p, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not p.exists():
            return f"{p} is absent: `apt-get install -y {pkg}` to run the browser test"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; it is a dev dependency)"
    return None


@contextmanager
def chromium(width: int = 1100, height: int = 900) -> Iterator[Any]:
    """A Selenium driver of a fresh headless Chromium, quit (and its profile removed) after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hnn-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for f in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(f)
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def check_on_page(
    driver: Any, url: str, upload: Path | None = None, path: str | None = None, timeout: float = 60
) -> Any:
    """Open the review page, send ``upload`` (a file) or ``path`` (a storage path), and wait
    for the verdict; the verdict element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    if upload is not None:
        driver.find_element(By.ID, "file").send_keys(str(upload))
    if path is not None:
        driver.find_element(By.ID, "path").send_keys(path)
    driver.find_element(By.ID, "submit").click()
    out = driver.find_element(By.ID, "verdict")
    WebDriverWait(driver, timeout).until(
        lambda d: out.get_attribute("data-state") in ("done", "error")
    )
    return out
