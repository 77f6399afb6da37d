"""The edge runtime needs numpy + onnxruntime, nothing heavier: the package, the CLI and a
short demo run in a process where importing torch fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK_TORCH = textwrap.dedent(
    """
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
            return None
    sys.meta_path.insert(0, _NoTorch())
    """
)


def test_runtime_and_demo_work_without_torch(tmp_path: Path) -> None:
    code = BLOCK_TORCH + textwrap.dedent(
        f"""
        import edgetwin, edgetwin.core, edgetwin.store, edgetwin.runtime.pipeline
        import edgetwin.edge, edgetwin.edge.runtime, edgetwin.twin, edgetwin.server, edgetwin.sim
        import edgetwin.pdm.online, edgetwin.runtime.module_monitor, edgetwin.vision
        import edgetwin.pdm.diagnose, edgetwin.pdm.detect, edgetwin.pdm.rul.module
        import edgetwin.connect.opcua, edgetwin.connect.mqtt
        from edgetwin.cli.main import _app
        from typer.testing import CliRunner
        r = CliRunner().invoke(_app, ["demo", "--headless", "--no-serve", "--speed", "0",
                                      "--plant-time", "20m", "--db", {str(tmp_path / "d.duckdb")!r}])
        assert r.exit_code == 0, r.output
        assert "Demo summary" in r.output
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("ok")
