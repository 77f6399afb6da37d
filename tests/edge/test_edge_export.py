"""torch -> ONNX export with a parity check that can fail."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import ModuleError

torch = pytest.importorskip("torch")

from edgetwin.edge.export import export_with_parity  # noqa: E402


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 5, padding=2),
        torch.nn.BatchNorm1d(4),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    ).eval()


def test_export_matches_torch():
    x = np.random.default_rng(0).standard_normal((16, 1, 64)).astype(np.float32)
    onnx_bytes, report = export_with_parity(_net(), x, atol=1e-4)
    assert report.passed and report.n == 32 and report.max_abs < 1e-4
    import onnxruntime as ort

    out = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(
        None, {"x": x[:3]}
    )[0]
    assert out.shape == (3, 2)  # dynamic batch


def test_export_parity_fails_when_model_differs_from_export():
    class Drifting(torch.nn.Module):
        """Behaves differently in tracing than afterwards (a data-dependent Python branch)."""

        def __init__(self):
            super().__init__()
            self.inner = _net()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return self.inner(x) + (0.0 if self.calls == 1 else 0.5)

    x = np.random.default_rng(1).standard_normal((8, 1, 64)).astype(np.float32)
    with pytest.raises(ModuleError, match="parity failed"):
        export_with_parity(Drifting(), x, atol=1e-3)
