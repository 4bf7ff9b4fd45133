"""report.html in a real browser: headless Chromium (Debian's package, installed by
scripts/setup_test_system.sh), network off, driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: no port, no extra Python package). Every plot must render (plotly's
SVG in the DOM) and the console must show no error, so the page works offline as promised."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sweep import html_report
from tests.test_report import make_study

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class DevTools:
    """A minimal Chrome DevTools protocol client over the pipe (fd 3: to the browser, fd 4: from it)."""

    def __init__(self, binary: str, profile: Path):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def child_fds() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)
            os.set_inheritable(3, True)  # dup2 onto itself (a pipe that already was fd 3) keeps CLOEXEC
            os.set_inheritable(4, True)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-unsafe-swiftshader",  # WebGL (plotly's parcoords) in software
                f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",  # network off
                "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,  # noqa: PLW1509
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_r, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    msg = json.loads(raw)
                    if "id" in msg:
                        with self._cond:
                            self._replies[msg["id"]] = msg
                            self._cond.notify_all()
                    else:
                        self.events.put(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: self._next in self._replies, timeout=timeout):
                raise TimeoutError(method)
            reply = self._replies.pop(self._next)
        assert "error" not in reply, reply
        return reply["result"]

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - killed below anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)


def _errors(event: dict) -> str | None:
    method, p = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        return json.dumps(p.get("exceptionDetails"))[:500]
    if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
        return json.dumps(p.get("args"))[:500]
    if method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
        return json.dumps(p["entry"])[:500]
    return None


@pytest.mark.slow
def test_report_renders_every_plot_offline_with_no_console_error(tmp_path):
    binary = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if binary is None:
        pytest.skip("no Chromium (bash scripts/setup_test_system.sh installs it)")
    cfg, study = make_study(tmp_path, behaviour=True)
    page = html_report.write_report(cfg, study)
    n_plots = page.read_text().count('class="plotly-graph-div"')
    assert n_plots == 5  # parcoords (with a behaviour axis), the Pareto plot, importance, history, intermediate
    profile = tmp_path / "profile"
    profile.mkdir()
    browser = DevTools(binary, profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        seen, errors, loaded = [], [], False
        deadline = time.monotonic() + 90
        rendered: list[int] = []
        while time.monotonic() < deadline:
            try:
                while True:
                    ev = browser.events.get_nowait()
                    seen.append(ev.get("method"))
                    loaded |= ev.get("method") == "Page.loadEventFired"
                    if (err := _errors(ev)) is not None:
                        errors.append(err)
            except queue.Empty:
                pass
            if loaded:
                expr = ("JSON.stringify([...document.querySelectorAll('.plotly-graph-div')]"
                        ".map(d => d.querySelectorAll('svg.main-svg').length))")
                result = browser.send("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                                      session=session)
                rendered = json.loads(result["result"]["value"])
                if len(rendered) == n_plots and all(rendered):
                    time.sleep(1.0)  # let late errors (a failed resource, a WebGL failure) arrive
                    while not browser.events.empty():
                        if (err := _errors(browser.events.get())) is not None:
                            errors.append(err)
                    break
            time.sleep(0.2)
        assert loaded, f"the page never loaded: {seen[-20:]}"
        assert len(rendered) == n_plots and all(rendered), f"plots without plotly's SVG: {rendered}"
        titles = browser.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                              session=session)["result"]["value"]
        assert cfg.study_name in titles
        assert not errors, errors
    finally:
        browser.close()
