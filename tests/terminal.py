"""A real terminal for tests: a program on a pseudo-terminal, its output fed to the pyte emulator."""
import os
import pty
import select
import signal
import termios
import time

import pyte

KEYS = {"TAB": "\t", "ENTER": "\r", "ESC": "\x1b", "UP": "\x1b[A", "DOWN": "\x1b[B", "RIGHT": "\x1b[C",
        "LEFT": "\x1b[D", "PGDN": "\x1b[6~", "PGUP": "\x1b[5~", "HOME": "\x1b[H", "END": "\x1b[F", "BTAB": "\x1b[Z"}


class Terminal:
    """`argv` running on a pty of columns x lines; `screen` is what a user would see."""

    def __init__(self, argv, columns=120, lines=30, env=None):
        self.columns, self.lines = columns, lines
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.pid, self.fd = pty.fork()
        if self.pid:
            self._set_size(columns, lines)
        if self.pid == 0:  # the child: the program, on the pty
            env = dict(env or os.environ)
            for name in ("COLUMNS", "LINES"):   # curses would believe these over the pty's real size
                env.pop(name, None)
            os.execvpe(argv[0], argv, env)
        self._set_size(columns, lines)
        self.modes_before = None
        self.status = None

    def _set_size(self, columns, lines):
        import fcntl
        import struct
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))

    def resize(self, columns, lines):
        self.columns, self.lines = columns, lines
        self.screen.resize(lines, columns)
        self._set_size(columns, lines)
        os.kill(self.pid, signal.SIGWINCH)

    def read(self, seconds=0.05):
        """Feed whatever the program writes within `seconds` to the emulator."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not ready:
                return
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # the program ended and the pty closed
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)

    def text(self):
        return "\n".join(self.screen.display)

    def wait_for(self, predicate, timeout=20.0):
        """Read until predicate(text) holds; the screen text at that moment (AssertionError on timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read(0.05)
            text = self.text()
            if predicate(text):
                return text
        raise AssertionError("screen never matched; it shows:\n" + self.text())

    def wait_text(self, needle, timeout=20.0):
        return self.wait_for(lambda text: needle in text, timeout)

    def send(self, *keys):
        for key in keys:
            os.write(self.fd, KEYS.get(key, key).encode())
            time.sleep(0.05)

    def wait_exit(self, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else \
                    (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status))
                self.read(0.1)
                return self.status
        raise AssertionError("the program did not exit; the screen shows:\n" + self.text())

    def modes(self):
        """The pty's line discipline flags (echo, canonical mode...), to see the program restored them."""
        return termios.tcgetattr(self.fd)[3]

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        os.close(self.fd)
