"""Open every page of the built tutorial site in headless Chromium: it renders, its images load, and the
console shows no error.  Run by `make docs` after the build (not part of `make test`: the site needs the
executed notebooks of a `make reproduce` run):

    python -m pytest docs/test_site.py        (PHOTOZ_DOCS_SITE=<folder> checks another build)

Chromium is driven over the DevTools protocol (websocket-client); the site is served over HTTP from a local
thread, as a web server would.  The landing page's screenshot goes to ``<site>/../landing.png``.
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import websocket  # websocket-client, in the docs extra

SITE = Path(os.environ.get("PHOTOZ_DOCS_SITE", Path(__file__).resolve().parent.parent / "build" / "docs" / "html"))
PAGE_LOAD_S = 60
# Every maths element of the page holds MathJax 3's typeset output.
MATHS_DONE = "Array.from(document.querySelectorAll('.math')).every(m => m.querySelector('mjx-container'))"


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        pages = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")) if SITE.is_dir() else []
        metafunc.parametrize("page", pages or ["<no site: run `make docs`>"])


class Chromium:
    """One headless Chromium and one tab, driven over the DevTools protocol."""

    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if exe is None:
            raise RuntimeError("no Chromium on PATH: `make docs` installs the Debian package `chromium`")
        self.profile = tempfile.TemporaryDirectory()
        self.proc = subprocess.Popen([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--remote-debugging-port=0", "--window-size=1280,900",
                                      f"--user-data-dir={self.profile.name}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            tab = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=PAGE_LOAD_S, suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _devtools_port(self) -> int:
        for line in self.proc.stderr:  # Chromium announces "DevTools listening on ws://127.0.0.1:PORT/..."
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained
                return int(match.group(1))
        raise RuntimeError(f"Chromium exited (code {self.proc.wait()}) without opening its DevTools port")

    def call(self, method: str, **params):
        """Send one command; keep the events that arrive before its answer."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def open(self, url: str) -> dict:
        """Load ``url``; returns its title, text length, images (src, loaded) and the console errors."""
        self.events = []
        self.call("Page.navigate", url=url)
        deadline = time.time() + PAGE_LOAD_S
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline:
                raise TimeoutError(f"{url}: no load event in {PAGE_LOAD_S} s")
            self.events.append(json.loads(self.ws.recv()))
        while time.time() < deadline and not self.evaluate(MATHS_DONE):
            time.sleep(0.2)  # MathJax typesets after the load event
        time.sleep(0.5)  # other scripts that run after load (search index)
        state = self.evaluate("""({title: document.title, text: document.body.innerText.length,
            maths: [document.querySelectorAll('.math').length, document.querySelectorAll('mjx-merror').length],
            images: Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0])})""")
        self.evaluate("0")  # collect the events that arrived meanwhile
        return {**state, "maths_typeset": self.evaluate(MATHS_DONE), "errors": console_errors(self.events)}

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        self.profile.cleanup()


def console_errors(events) -> list[str]:
    """Uncaught exceptions, console.error calls and browser errors (e.g. a resource that failed to load)."""
    errors = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("exception", {}).get("description")
                          or params["exceptionDetails"].get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['text']} {params['entry'].get('url', '')}".strip())
    return errors


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # a failed request shows up as a console error of the page
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


def test_page_renders_with_its_images_and_no_console_error(page, server, browser):
    assert SITE.is_dir(), f"{SITE}: no site; build it with `make docs`"
    result = browser.open(server + page)
    assert result["title"] and result["text"] > 200, f"{page}: blank page ({result['text']} characters of text)"
    broken = [src for src, loaded in result["images"] if not loaded]
    assert not broken, f"{page}: {len(broken)} of {len(result['images'])} image(s) did not load: {broken[:5]}"
    assert not result["errors"], f"{page}: console errors: {result['errors'][:5]}"
    n_maths, n_failed = result["maths"]
    assert result["maths_typeset"] and not n_failed, f"{page}: {n_failed} of {n_maths} formulae failed to typeset"
    if page == "index.html":
        browser.screenshot(SITE.parent / "landing.png")


def test_site_has_every_notebook_and_the_figure_index():
    from photoz_nb.cli import NOTEBOOKS

    pages = {p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")}
    from build import PAGES  # docs/build.py: the pages written in docs/

    wanted = {"index.html", "readme.html", "figures.html", "changelog.html", *(f"{p}.html" for p in PAGES),
              *(f"notebooks/{n}.html" for n in NOTEBOOKS)}
    assert wanted <= pages, f"missing pages: {sorted(wanted - pages)}"
