"""A small Chrome DevTools Protocol client: load a page headless, collect errors, screenshot.

Starts Debian's ``chromium --headless`` on 127.0.0.1 with a fresh profile and no background
networking, opens the page, records console errors, uncaught exceptions and failed resource
loads, and captures a PNG of the full page at a fixed viewport width.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
)


def chromium_path() -> str | None:
    """``ALGOTRADER_CHROMIUM`` or chromium on PATH."""
    return os.environ.get("ALGOTRADER_CHROMIUM") or shutil.which("chromium")


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    width: int = 0
    height: int = 0


def load_page(html: Path, *, width: int = 1280, timeout: float = 60.0) -> PageLoad:
    """Open ``html`` (a file) in headless chromium; errors seen and a full-page screenshot."""
    exe = chromium_path()
    assert exe, "chromium not found"
    profile = tempfile.mkdtemp(prefix="algotrader-chromium-")
    proc = subprocess.Popen(
        [
            exe,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--window-size={width},900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _port(proc, timeout)
        ws_url = _page_ws(port, timeout)
        return _drive(ws_url, html, width, timeout)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def _port(proc: subprocess.Popen[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if m:
            return int(m.group(1))
        if not line and proc.poll() is not None:
            break
    raise RuntimeError("chromium did not start its DevTools endpoint")


def _page_ws(port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            targets = json.loads(r.read())
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.1)
    raise RuntimeError("no page target")


def _drive(ws_url: str, html: Path, width: int, timeout: float) -> PageLoad:
    out = PageLoad()
    with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=timeout) as ws:
        ids = iter(range(1, 10_000))

        def call(method: str, **params: Any) -> dict[str, Any]:
            n = next(ids)
            ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv(timeout=timeout))
                if msg.get("id") == n:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return dict(msg.get("result", {}))
                _event(msg, out)

        for domain in ("Page", "Runtime", "Log", "Network"):
            call(f"{domain}.enable")
        call("Page.navigate", url=html.resolve().as_uri())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=timeout))
            _event(msg, out)
            if msg.get("method") == "Page.loadEventFired":
                break
        metrics = call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        out.width = int(max(width, size["width"]))
        out.height = int(min(size["height"], 16000))
        call(
            "Emulation.setDeviceMetricsOverride",
            width=out.width,
            height=out.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        out.screenshot = base64.b64decode(shot["data"])
    return out


def _event(msg: dict[str, Any], out: PageLoad) -> None:
    method, params = msg.get("method"), msg.get("params", {})
    if method == "Runtime.exceptionThrown":
        out.errors.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        out.errors.append(f"console.{params.get('type')}: {params.get('args')}")
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        out.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    elif method == "Network.loadingFailed":
        out.errors.append(f"load failed: {params.get('errorText')}")
    elif method == "Network.requestWillBeSent":
        url = params.get("request", {}).get("url", "")
        if not url.startswith(("file:", "data:", "about:")):
            out.errors.append(f"network request: {url}")
