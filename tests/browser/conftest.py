"""Fixtures of the browser tests: the emulator, Airflow's api-server, headless Chromium, screenshots.

Playwright is imported lazily: this file is also collected where it is not installed (the Airflow
2.11 venv), where the browser tests are deselected.

- ``TTM_WRITE_SCREENSHOTS=1`` writes the screenshots to ``docs/screenshots`` (else a temp dir).
- ``TTM_BROWSER_KEEP=1`` keeps the api-server's temp dir (AIRFLOW_HOME, logs) after the session;
  it is also kept, and its path printed, when a browser test fails.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e.emulator_process import EmulatorProcess

from .api_server import AirflowApiServer
from .installs import CHROMIUM_ARGS, ensure_chromium, ensure_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 720}
TIMEOUT_MS = 20_000  # every Playwright wait and expect; the Test action makes one call to the emulator

_FAILED = pytest.StashKey[bool]()
_SERVER = pytest.StashKey[AirflowApiServer]()
_PAGE = pytest.StashKey[Any]()


class Screenshots:
    """Named PNGs of the page, of one element, or of several shots side by side, in ``folder``."""

    def __init__(self, folder: Path, browser: Browser) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._browser = browser

    def save(self, target: Page | Locator, name: str) -> Path:
        """Screenshot ``target`` (a page: its viewport; an element: its box) as ``<name>.png``."""
        path = self.folder / f"{name}.png"
        target.screenshot(path=str(path), animations="disabled")
        return path

    def side_by_side(self, name: str, parts: list[Path]) -> Path:
        """One PNG of ``parts`` next to each other, top-aligned, rendered by the browser itself."""
        images = "".join(
            f'<img src="data:image/png;base64,{base64.b64encode(part.read_bytes()).decode()}">'
            for part in parts
        )
        html = (
            "<html><body style='margin:0;background:#8a94a6'>"
            f"<div id='all' style='display:inline-flex;gap:16px;padding:16px;align-items:flex-start'>"
            f"{images}</div></body></html>"
        )
        context = self._browser.new_context(viewport={"width": 800, "height": 600})
        try:
            canvas = context.new_page()
            canvas.set_content(html)
            path = self.folder / f"{name}.png"
            canvas.locator("#all").screenshot(path=str(path))
        finally:
            context.close()
        return path


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, and Playwright for Python to drive it (installed when missing)."""
    path = ensure_chromium()
    ensure_playwright()
    return path


@pytest.fixture(scope="session")
def browser_emulator() -> Iterator[EmulatorProcess]:
    """The TTM API emulator in a process of its own, accepting one random key."""
    with EmulatorProcess(api_key=f"ttm-browser-key-{secrets.token_hex(8)}", auto_train="6s") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def api_server(request: pytest.FixtureRequest) -> Iterator[AirflowApiServer]:
    """``airflow api-server`` (with this provider installed) on SQLite, started once per session."""
    server = AirflowApiServer(keep=os.environ.get("TTM_BROWSER_KEEP") == "1")
    request.config.stash[_SERVER] = server
    with server:
        yield server
        if request.config.stash.get(_FAILED, False):
            server.keep = True
            print(f"\nbrowser api-server kept for inspection: {server.root}")


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Browser]:
    """Headless Chromium from Debian's package, driven by Playwright (never Playwright's own build)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page with a desktop-sized viewport."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    request.node.stash[_PAGE] = page
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshots(tmp_path: Path, browser: Browser) -> Screenshots:
    """Where the test's screenshots go: ``docs/screenshots`` with ``TTM_WRITE_SCREENSHOTS=1``."""
    if os.environ.get("TTM_WRITE_SCREENSHOTS") == "1":
        return Screenshots(DOCS_SCREENSHOTS, browser)
    return Screenshots(tmp_path / "screenshots", browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed browser test: a screenshot of the page, and the api-server's log in the report."""
    report = yield
    if report.when != "call" or not report.failed:
        return report
    item.config.stash[_FAILED] = True
    page = item.stash.get(_PAGE, None)
    server = item.config.stash.get(_SERVER, None)
    if page is not None and server is not None:
        shot = server.root / f"failed-{item.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            report.sections.append(("browser", f"screenshot at failure: {shot}"))
        except Exception as error:  # the page may be gone; the report matters more
            report.sections.append(("browser", f"no screenshot at failure: {error}"))
    if server is not None:
        report.sections.append(("api-server log", server.tail("api-server", 60)))
    return report
