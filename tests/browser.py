"""A tiny driver for Debian's headless Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ending in NUL on fds 3 and 4), stdlib only: open a page, evaluate script, collect console
messages, exceptions and every network request, take screenshots."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    return next((shutil.which(name) for name in CANDIDATES if shutil.which(name)), None)


class Browser:
    """One headless Chromium with one page; events are kept in `console`, `errors` and `requests`."""

    def __init__(self, binary=None, timeout=30):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise RuntimeError("no chromium on PATH (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sb-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # the browser reads commands on fd 3 and writes answers on fd 4; moved above 10 first, so that placing
        # them on 3 and 4 in the child cannot overwrite one with the other
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
        for fd in (to_browser, from_browser):
            os.close(fd)
        argv = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--no-first-run", "--disable-extensions", "--mute-audio",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "about:blank"]
        # bash (dash takes no fd above 9) puts the pipe ends on 3 and 4 (Popen's pass_fds keeps fds, it cannot renumber them)
        place = 'exec "$0" "$@" 3<&{0} 4>&{1} {0}<&- {1}>&-'.format(*ends)
        self.process = subprocess.Popen(["bash", "-c", place] + argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=ends)
        for fd in ends:
            os.close(fd)
        self._buffer, self._next_id, self._events = b"", 0, []
        self.console, self.errors, self.requests = [], [], []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(domain + ".enable", session=True)

    # ---- the protocol -------------------------------------------------------------------------------

    def call(self, method, session=False, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive(self.timeout)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError("{}: {}".format(method, answer["error"]))
                return answer.get("result", {})
            self._note(answer)

    def _receive(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer within {} s".format(timeout))
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe (exit {})".format(self.process.poll()))
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message.decode())

    def _note(self, event):
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append((params.get("type"), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append((entry.get("level"), entry.get("text")))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url"))
        self._events.append(method)

    def pump(self, seconds):
        """Read events for this long (console lines and requests that come after a call returned)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._note(self._receive(max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                return

    # ---- what the tests use ---------------------------------------------------------------------------

    def size(self, width, height, mobile=False):
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def open(self, url, ready="document.documentElement.getAttribute('data-charts') === 'drawn'"):
        """Navigate and wait until `ready` (a script expression) is true; seconds it took."""
        begin = time.monotonic()
        self.call("Page.navigate", session=True, url=url)
        self.wait(ready)
        return time.monotonic() - begin

    def wait(self, expression, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                if self.eval(expression):
                    return
            except RuntimeError:    # the page is between documents
                pass
            self.pump(0.05)
        raise TimeoutError("page never made {!r} true".format(expression))

    def eval(self, expression):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError("script failed: {}".format(result["exceptionDetails"]))
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
        return path

    def problems(self):
        """Console errors and warnings, and uncaught exceptions, seen so far."""
        return [text for level, text in self.console if level in ("error", "warning", "assert")] + self.errors

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
