"""The widgets in a real browser: headless Chromium driven by playwright.

* JupyterLab on a free loopback port, with a token, serving a temporary copy of
  ``tests/browser/time_travel.ipynb``: run all cells, move the time-travel slider with
  the keyboard, and see the state the kernel shows change.
* The Voilà dashboard (``python -m eslib.dashboard --demo``): the page loads, the stream
  explorer renders, and paging through a stream changes the event shown.

Needs Debian's Chromium at /usr/bin/chromium (``make browser`` installs it; playwright's
own browser download does not work offline) and the Python ``playwright`` package.
Without them the tests skip, except under CI (``CI=true``), where that is a failure.
Every server and browser is stopped by its fixture, whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("ESLIB_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
NOTEBOOK = Path(__file__).parent / "browser" / "time_travel.ipynb"
START_TIMEOUT = 120  # seconds for a server to answer (a loaded 2-core machine is slow)
UI_TIMEOUT = 90_000  # ms for anything the page must show
MARKER = "ESLIB_BROWSER_TEST"  # in the servers' environment, inherited by their kernels


def _unavailable(reason: str) -> None:
    message = f"browser test not run: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the browser tests must run; see `make browser`)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_until_up(server: Server, probe: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}{probe}", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"the server did not answer {probe} within {START_TIMEOUT}s:\n{server.output()}")


def _start(argv: list[str], env: dict[str, str], log: Path, port: int, token: str) -> Server:
    with log.open("wb") as out:
        # a session of its own: stopping the group stops the kernels the server started
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Server(f"http://127.0.0.1:{port}", token, process, log)


def _stop(server: Server) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL; then any process still
    carrying this server's marker (kernels run in sessions of their own)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if server.process.poll() is not None:
            break
        try:
            os.killpg(server.process.pid, sig)
            server.process.wait(wait)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    marker = f"{MARKER}={server.token}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # gone already, or not ours to read


def _environment(home: Path, token: str) -> dict[str, str]:
    """The servers' environment: Jupyter's own folders in ``home``, nothing from the user's,
    and a marker that every process they start inherits (to find their kernels)."""
    env = dict(os.environ)
    env[MARKER] = token
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        path = home / name.lower()
        path.mkdir()
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # the modern folder layout, without its warning
    env.pop("ESLIB_URL", None)
    return env


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[dev]'")
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(UI_TIMEOUT)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("lab-home")
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)  # a copy: autosave rewrites notebooks
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # the news and update notifications would cover the notebook
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    server = _start([
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
    ], _environment(home, token), home / "lab.log", port, token)
    try:
        _wait_until_up(server, f"/api/status?token={token}")
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def dashboard(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("voila")
    home = tmp_path_factory.mktemp("voila-home")
    port, token = _free_port(), secrets.token_hex(16)
    argv = [sys.executable, "-m", "eslib.dashboard", "--demo", f"--port={port}",
            f"--token={token}"]
    server = _start(argv, _environment(home, token), home / "voila.log", port, token)
    try:
        _wait_until_up(server, f"/voila/static/voila.js?token={token}")
        yield server
    finally:
        _stop(server)


@contextmanager
def _diagnosed(page: Any, server: Server, folder: Path) -> Iterator[None]:
    """On failure: a screenshot and the server's log, named in the error."""
    try:
        yield
    except BaseException as exc:
        shot = folder / "failure.png"
        try:
            page.screenshot(path=str(shot), timeout=10_000)
        except Exception:
            shot = Path("(no screenshot)")
        pytest.fail(f"{type(exc).__name__}: {exc}\nscreenshot: {shot}\nserver log:\n"
                    f"{server.output()}")


def test_time_travel_slider_in_jupyterlab(lab: Server, page: Any, tmp_path: Path) -> None:
    with _diagnosed(page, lab, tmp_path):
        _time_travel(lab, page)


def test_explorer_dashboard_in_voila(dashboard: Server, page: Any, tmp_path: Path) -> None:
    with _diagnosed(page, dashboard, tmp_path):
        _explorer(dashboard, page)


def _time_travel(lab: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?reset&token={lab.token}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    _run_all_cells(page)

    state = page.locator(".eslib-state")
    event = page.locator(".eslib-event")
    expect(state).to_contain_text("balance: 175")
    expect(event).to_contain_text("v4  Deposited")

    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowLeft")  # the kernel rebuilds version 3 and sends its state back
    expect(state).to_contain_text("balance: 150")
    expect(event).to_contain_text("v3  Deposited")
    expect(page.locator(".widget-slider .widget-readout").first).to_have_text("3")

    handle.press("Home")
    expect(state).to_contain_text("balance: 0")
    expect(state).to_contain_text('owner: "Ann"')
    expect(event).to_contain_text("v1  AccountOpened")


# The notebook's kernel, once its websocket is connected and it is idle: cells run before
# that can be lost (the indicator may say idle already while the connection is made).
_KERNEL_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def _run_all_cells(page: Any, attempts: int = 3) -> None:
    """Run every cell; again if the kernel never saw the request (a cell got no count)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    last_cell = page.locator(".jp-CodeCell .jp-InputPrompt").last
    for attempt in range(1, attempts + 1):
        page.wait_for_function(_KERNEL_READY)
        # not awaited: the command's promise settles only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(
                "(el) => /\\[\\d+\\]/.test(el.textContent)", arg=last_cell.element_handle(),
                timeout=UI_TIMEOUT // attempts)
            return
        except PlaywrightTimeout:
            if attempt == attempts:
                raise


def _explorer(dashboard: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{dashboard.url}/?token={dashboard.token}")
    detail = page.locator(".eslib-event")
    expect(detail).to_contain_text("data {")  # the explorer rendered with a stream's first event
    expect(page.locator(".widget-dropdown select").first).to_be_visible()
    first = detail.inner_text()

    page.get_by_role("button", name="next ▶").click()  # page 2 of the first stream
    expect(detail).not_to_have_text(first)
    expect(page.locator(".widget-label", has_text="events 16-")).to_be_visible()
    assert "Traceback" not in page.content()
