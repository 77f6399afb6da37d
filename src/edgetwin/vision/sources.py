"""Image sources on the line: a watched folder, and a camera or video stream through OpenCV.

Each source is an iterator of `Frame` (timestamp in ns since the epoch, a name, float RGB image).
`InspectionSource` turns any of them into a runtime source (the `Source` protocol of
`edgetwin.runtime.interfaces`: `name` and `async run(emit)`) that emits one events row per part,
running the blocking work (file I/O, decoding, ONNX) in a worker thread so the event loop stays
responsive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import ConnectError
from edgetwin.vision.datasets import IMAGE_SUFFIXES
from edgetwin.vision.image import as_rgb, read_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One captured part image: `ts_ns` when it was captured (file mtime or grab time)."""

    ts_ns: int
    name: str
    image: np.ndarray


class FolderSource:
    """Yields every image that appears in `folder` (a camera's FTP drop, a PLC-triggered save).

    Files present at start are yielded first (oldest first) unless `skip_existing`. A file is
    taken only once its size has been stable for `settle_s` seconds, so half-written images are
    not read. `poll_s` is the directory scan period; `max_frames` / `idle_timeout_s` end the
    iteration (None: watch forever).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        poll_s: float = 0.5,
        settle_s: float = 0.2,
        skip_existing: bool = False,
        max_frames: int | None = None,
        idle_timeout_s: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.skip_existing = skip_existing
        self.max_frames = max_frames
        self.idle_timeout_s = idle_timeout_s

    def _scan(self) -> list[Path]:
        return sorted(
            (
                p
                for p in self.folder.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            ),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
        )

    def __iter__(self) -> Iterator[Frame]:
        if not self.folder.is_dir():
            raise ConnectError(
                f"watched folder {self.folder} does not exist; create it or fix the path"
            )
        seen: set[Path] = set(self._scan()) if self.skip_existing else set()
        sizes: dict[Path, tuple[int, float]] = {}
        count, last_new = 0, time.monotonic()
        while True:
            now = time.monotonic()
            for p in self._scan():
                if p in seen:
                    continue
                size = p.stat().st_size
                prev = sizes.get(p)
                if prev is None or prev[0] != size:
                    sizes[p] = (size, now)
                    if self.settle_s > 0:
                        continue
                elif now - prev[1] < self.settle_s:
                    continue
                seen.add(p)
                sizes.pop(p, None)
                last_new = now
                try:
                    image = read_image(p)
                except Exception as exc:  # a corrupt file must not stop the line
                    log.warning("skipping unreadable image %s: %s", p, exc)
                    continue
                yield Frame(p.stat().st_mtime_ns, p.name, image)
                count += 1
                if self.max_frames is not None and count >= self.max_frames:
                    return
            if (
                self.idle_timeout_s is not None
                and time.monotonic() - last_new > self.idle_timeout_s
            ):
                return
            time.sleep(self.poll_s if not sizes else min(self.poll_s, self.settle_s))


class VideoSource:
    """Frames from a camera index, a video file or a stream URL (RTSP/HTTP) through OpenCV.

    `every_n` keeps one frame in n (a 30 fps camera over a conveyor that brings 2 parts/s);
    `max_frames` ends the iteration. Timestamps are the host clock at grab time.
    """

    def __init__(
        self,
        uri: str | int,
        *,
        every_n: int = 1,
        max_frames: int | None = None,
        name: str | None = None,
    ) -> None:
        self.uri = uri
        self.every_n = max(1, int(every_n))
        self.max_frames = max_frames
        self.name = name or str(uri)

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = cv2.VideoCapture(self.uri)
        if not cap.isOpened():
            raise ConnectError(
                f"video source {self.uri!r} cannot be opened; check the camera index, file or URL"
            )
        try:
            index, count = 0, 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                index += 1
                if (index - 1) % self.every_n:
                    continue
                yield Frame(
                    time.time_ns(), f"{Path(str(self.name)).stem}_{index:06d}", as_rgb(frame)
                )
                count += 1
                if self.max_frames is not None and count >= self.max_frames:
                    return
        finally:
            cap.release()


class InspectionSource:
    """Runtime source: frames from `frames` -> inspector -> one events row per part.

    `inspector` is an `edgetwin.vision.inspect.Inspector` (or anything with `inspect` and
    `events`). Frames are pulled and inspected in a worker thread.
    """

    def __init__(self, name: str, frames: Any, inspector: Any) -> None:
        self.name = name
        self.frames = frames
        self.inspector = inspector

    async def run(self, emit: Callable[[Any], Awaitable[None]]) -> None:
        it = iter(self.frames)
        done = object()

        def step() -> Any:
            frame: Any = next(it, done)
            if frame is done:
                return done
            result = self.inspector.inspect(frame.image, name=frame.name, ts_ns=frame.ts_ns)
            return self.inspector.events([result])

        while True:
            table = await asyncio.to_thread(step)
            if table is done:
                return
            await emit(table)
