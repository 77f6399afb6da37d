"""Image sources (watched folder, OpenCV video), tiling and the runtime inspection source."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetwin.core.errors import ConnectError
from edgetwin.vision.sources import FolderSource, InspectionSource, VideoSource
from edgetwin.vision.tiling import tile_origins, tiled_map


def test_folder_source_yields_new_files_once(tmp_path: Path) -> None:
    for i in range(3):
        img = np.full((20, 30), 40 * (i + 1), np.uint8)
        p = tmp_path / f"part{i}.png"
        cv2.imwrite(str(p), img)
        os.utime(p, ns=(1_000_000_000 * (i + 1), 1_000_000_000 * (i + 1)))
    (tmp_path / "notes.txt").write_text("not an image")
    frames = list(FolderSource(tmp_path, poll_s=0.01, settle_s=0.0, idle_timeout_s=0.05))
    assert [f.name for f in frames] == ["part0.png", "part1.png", "part2.png"]  # oldest first
    assert frames[0].ts_ns == 1_000_000_000
    assert frames[2].image.shape == (20, 30, 3) and frames[2].image[0, 0, 0] == pytest.approx(
        120 / 255
    )
    skip = list(
        FolderSource(tmp_path, poll_s=0.01, settle_s=0.0, skip_existing=True, idle_timeout_s=0.05)
    )
    assert skip == []
    with pytest.raises(ConnectError, match="does not exist"):
        list(FolderSource(tmp_path / "missing"))


def test_video_source_reads_every_nth_frame(tmp_path: Path) -> None:
    path = tmp_path / "line.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    frames = list(VideoSource(str(path), every_n=3))
    assert len(frames) == 4  # frames 1, 4, 7, 10
    assert frames[0].image.shape == (48, 64, 3)
    means = [f.image.mean() for f in frames]
    assert means == sorted(means) and means[-1] - means[0] > 0.5
    assert len(list(VideoSource(str(path), max_frames=2))) == 2
    with pytest.raises(ConnectError):
        list(VideoSource(str(tmp_path / "nope.avi")))


def test_tiling_covers_and_stitches_by_max() -> None:
    assert tile_origins(224, 224, 32) == [0]
    starts = tile_origins(600, 224, 32)
    assert starts[0] == 0 and starts[-1] == 600 - 224
    assert all(b - a <= 224 - 32 for a, b in zip(starts, starts[1:], strict=False))

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        maps = batch[:, 0]  # the map is the red channel: stitching must reproduce the image
        return maps, maps.reshape(len(maps), -1).max(1)

    img = np.random.default_rng(0).random((300, 500, 3)).astype(np.float32)
    amap, score = tiled_map(run, img, (224, 224), overlap=32)
    assert amap.shape == (300, 500)
    np.testing.assert_allclose(amap, img[..., 0])
    assert score == pytest.approx(img[..., 0].max())
    small, _ = tiled_map(run, img[:100, :150], (224, 224))
    np.testing.assert_allclose(small, img[:100, :150, 0])


def test_inspection_source_emits_one_event_per_frame(tmp_path: Path) -> None:
    import pyarrow as pa

    from edgetwin.core import make_events

    class FakeInspector:
        def inspect(self, image, name, ts_ns):  # noqa: ANN001, ANN201
            return (ts_ns, name, float(image.mean()))

        def events(self, results):  # noqa: ANN001, ANN201
            ts, name, score = results[0]
            return make_events(
                [ts], "site/line1/inspect1", "inspection", 100, [{"score": score, "image": name}]
            )

    for i in range(2):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), np.full((8, 8), 100 * i, np.uint8))
    frames = FolderSource(tmp_path, poll_s=0.01, settle_s=0.0, idle_timeout_s=0.05)
    got: list[pa.Table] = []

    async def emit(t: pa.Table) -> None:
        got.append(t)

    src = InspectionSource("inspect1", frames, FakeInspector())
    asyncio.run(src.run(emit))
    assert len(got) == 2 and all(t.num_rows == 1 for t in got)
    assert got[1].column("kind")[0].as_py() == "inspection"


def test_line_side_code_imports_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import edgetwin.vision, edgetwin.vision.inspect, edgetwin.vision.sources, edgetwin.vision.synthetic\n"
        "import edgetwin.vision.train, edgetwin.cli.vision\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
