"""Headless Chromium driven over the DevTools protocol (``websocket-client``), for ``./dev screens``.

Small on purpose: open a page, wait for an element (CSS selector, optionally containing a text), click it,
type, evaluate JavaScript, save a PNG. Waits poll the page; nothing sleeps blindly but ``settle()``.
"""

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

from .common import LOGS, Fatal, free_port

CHROME_BINS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: ``__wa_find(selector, text)``: the first visible element matching ``selector`` whose text contains ``text``
FIND_JS = """
window.__wa_find = (sel, text, near) => {
    for (const el of document.querySelectorAll(sel)) {
        if (text && !(el.innerText || el.textContent || el.value || "").includes(text)) continue;
        if (near && !(el.closest(".o_data_row, li, tr") || el).innerText.includes(near)) continue;
        const r = el.getBoundingClientRect();
        if (!r.width && !r.height) continue;
        return el;
    }
    return null;
};
"""


class BrowserError(AssertionError):
    pass


def chrome_binary():
    for name in CHROME_BINS:
        if path := shutil.which(name):
            return path
    return None


class Chrome:
    """One headless Chromium with one tab. ``with Chrome(...) as page:`` stops it at the end."""

    def __init__(self, width=1440, height=900, lang="en-US", timezone=None):
        import websocket  # websocket-client, installed by ./dev screens

        binary = chrome_binary()
        if not binary:
            raise Fatal("Chromium is missing (apt-get install chromium)")
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="wa-screens-chrome-")
        port = free_port()
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = open(LOGS / "screens-chromium.log", "w")  # noqa: SIM115 (closed in close())
        cmd = [
            binary, "--headless=new", f"--remote-debugging-port={port}", f"--user-data-dir={self.profile}",
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
            "--mute-audio", "--disable-extensions", "--remote-allow-origins=*", f"--lang={lang}",
            f"--window-size={width},{height}", "--force-device-scale-factor=1", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        target = None
        while not target:
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise Fatal(f"Chromium did not start (see {LOGS / 'screens-chromium.log'})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as resp:
                    target = next((t for t in json.loads(resp.read()) if t.get("type") == "page"), None)
            except OSError:
                time.sleep(0.2)
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=120, suppress_origin=True
        )
        self.next_id = 0
        self.errors = []
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if timezone:  # the web client shows times in the browser's zone: the user's, as on their computer
            self.send("Emulation.setTimezoneOverride", timezoneId=timezone)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if getattr(self, "ws", None):
            try:
                self.ws.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------
    # PROTOCOL
    # ------------------------------------------------------------

    def send(self, method, **params):
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if msg.get("method") == "Runtime.exceptionThrown":
                details = msg["params"]["exceptionDetails"]
                self.errors.append((details.get("exception") or {}).get("description") or details.get("text"))

    def eval(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = (details.get("exception") or {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript failed: {text}")
        return result.get("result", {}).get("value")

    # ------------------------------------------------------------
    # PAGE
    # ------------------------------------------------------------

    def goto(self, url, ready=None, timeout=60):
        """Open ``url``; wait for the load, then for ``ready`` (a selector) when given."""
        self.eval("window.__wa_loaded = false")
        self.send("Page.navigate", url=url)
        self.wait_js("document.readyState === 'complete' && window.__wa_loaded !== false", timeout)
        self.eval(FIND_JS)
        if ready:
            self.wait(ready, timeout=timeout)
        self.settle()

    def wait_js(self, expression, timeout=30, what=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.eval(f"!!({expression})"):
                    return
            except BrowserError:
                pass
            time.sleep(0.2)
        raise BrowserError(f"waited {timeout}s for {what or expression}")

    def wait(self, selector, text=None, timeout=30, near=None):
        self.eval(FIND_JS)
        self.wait_js(
            f"window.__wa_find({json.dumps(selector)}, {json.dumps(text)}, {json.dumps(near)})",
            timeout,
            what=f"{selector}" + (f" containing {text!r}" if text else ""),
        )

    def gone(self, selector, timeout=30):
        self.wait_js(f"!document.querySelector({json.dumps(selector)})", timeout, what=f"no more {selector}")

    def exists(self, selector, text=None):
        self.eval(FIND_JS)
        return bool(self.eval(f"!!window.__wa_find({json.dumps(selector)}, {json.dumps(text)})"))

    def click(self, selector, text=None, timeout=30, near=None):
        """Click like a user: scroll into view, then the mouse events Odoo's components listen to.

        :param near: the element's row (``.o_data_row``, ``li``, ``tr``) contains this text
        """
        self.wait(selector, text, timeout, near=near)
        self.eval(
            f"""(() => {{
                const el = window.__wa_find({json.dumps(selector)}, {json.dumps(text)}, {json.dumps(near)});
                el.scrollIntoView({{block: "center"}});
                for (const type of ["pointerdown", "mousedown", "pointerup", "mouseup"]) {{
                    el.dispatchEvent(new MouseEvent(type, {{bubbles: true, cancelable: true, view: window}}));
                }}
                el.click();
            }})()"""
        )
        self.settle()

    def type(self, selector, text, enter=False):
        """Focus an input and type ``text`` (real key events, as Odoo's inputs expect)."""
        self.wait(selector)
        self.eval(f"window.__wa_find({json.dumps(selector)}, null).focus()")
        self.send("Input.insertText", text=text)
        if enter:
            for kind in ("rawKeyDown", "keyUp"):
                self.send(
                    "Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13
                )
            self.send("Input.dispatchKeyEvent", type="char", text="\r")
        self.settle()

    def settle(self, minimum=0.4, timeout=15):
        """Let the page finish what a click started (RPCs, rendering)."""
        time.sleep(minimum)
        self.wait_js(
            "!document.querySelector('.o_loading_indicator, .o_blockUI, .o-main-components-container .o_loading')"
            " && !document.querySelector('.o_view_controller .o_content .o_loading')",
            timeout,
            what="the page to settle",
        )
        time.sleep(0.2)

    def shot(self, path, full_page=False):
        """Save a PNG of the viewport (or of the whole page)."""
        params = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": self.width,
                    "height": max(size["height"], self.height),
                    "scale": 1,
                },
            )
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
