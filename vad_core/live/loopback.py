"""A loopback MJPEG server: frames served over HTTP on 127.0.0.1 from a thread, at a fixed rate.

It plays a clip (by default the synthetic demo clip, :func:`vad_core.datasets.synthetic.make_demo_clip`)
in a loop as ``multipart/x-mixed-replace`` JPEG parts, the format IP cameras use and OpenCV's FFmpeg
backend reads. Every client sees the same clock: the frame sent at time ``t`` is frame
``int(t * fps) % len(clip)`` since :meth:`MjpegServer.start`, so a client that reconnects after a
pause has missed the frames of the pause, as with a real camera. Used by the tests and by
``benchmarks/live_latency.py``; :meth:`stop` and :meth:`start` again simulate a camera going away.

Example::

    with MjpegServer(make_demo_clip().frames, fps=25.0) as server:
        print(server.url)          # http://127.0.0.1:PORT/stream.mjpg
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from vad_core.errors import ConfigError

BOUNDARY = "vadframe"


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    """One uint8 gray or RGB frame as JPEG bytes."""
    image = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise ConfigError("mjpeg server", "cannot encode a frame as JPEG")
    return data.tobytes()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MjpegServer:
    """Serves ``frames`` (uint8 ``(T, H, W)`` or ``(T, H, W, 3)``) at ``fps`` on 127.0.0.1:``port``.

    The port stays the same across :meth:`stop` / :meth:`start`, so a client can reconnect.
    ``sent`` counts the frames written to all clients.
    """

    def __init__(
        self, frames: np.ndarray, fps: float = 25.0, port: int | None = None, quality: int = 90
    ) -> None:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or len(frames) == 0:
            raise ConfigError("mjpeg server", f"expected uint8 frames (T, H, W[, 3]), found {frames.shape}")
        if not fps > 0:
            raise ConfigError("mjpeg server", f"fps must be > 0, found {fps}")
        self.fps = float(fps)
        self.port = port or _free_port()
        self._jpegs = [encode_jpeg(frame, quality) for frame in frames]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._began = 0.0
        self.sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def running(self) -> bool:
        return self._server is not None

    def frame_at(self, now: float) -> int:
        """The clip frame on air at ``time.monotonic() == now``."""
        return int((now - self._began) * self.fps) % len(self._jpegs)

    def start(self) -> MjpegServer:
        """Start serving (again) on the same port; the clip restarts at frame 0 on the first start."""
        if self._server is not None:
            return self
        if not self._began:
            self._began = time.monotonic()
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        server.allow_reuse_address = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="mjpeg-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every connection (as a camera that goes offline)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # quiet
                return

            def do_GET(self) -> None:  # http.server's name
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    owner._serve(self.wfile)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    return

        return Handler

    def _serve(self, stream) -> None:
        """Write one JPEG part per frame period until the server stops or the client leaves."""
        period = 1.0 / self.fps
        next_due = time.monotonic()
        while not self._stopping.is_set():
            data = self._jpegs[self.frame_at(next_due)]
            header = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            stream.write(header + data + b"\r\n")
            stream.flush()
            self.sent += 1
            next_due += period
            delay = next_due - time.monotonic()
            if delay > 0:
                self._stopping.wait(delay)
            else:
                next_due = time.monotonic()  # fell behind: do not burst to catch up
