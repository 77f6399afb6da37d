"""Headless Chromium: the edge-module page shows its evidence; the asset page shows the RUL band
chart, the anomaly/health chart and the inspection gallery from real events."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper

from edgetwin.core import make_events, make_samples
from edgetwin.core.config import parse_plant
from edgetwin.server import TokenStore, create_app
from edgetwin.server.background import ServerThread
from edgetwin.server.headless import CHROMIUM, launch
from edgetwin.store import open_store
from edgetwin.twin import Twin

PUMP = "site/line1/pump1"
S = 1_000_000_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs /usr/bin/chromium (apt-get install chromium chromium-driver)",
    ),
]


def tiny_onnx() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])
    m = helper.make_model(
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    m.ir_version = 8
    return m.SerializeToString()


def test_module_and_asset_pages(tmp_path, port, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    from edgetwin.edge import Manifest, build_module

    monkeypatch.setenv("EDGETWIN_HOME", str(tmp_path / "home"))
    mods = tmp_path / "modules"
    mods.mkdir()
    evidence = {
        "latency_ms": {"fp32_p50": 0.31, "int8_p50": 0.12},
        "robustness": [
            {"perturbation": "gaussian noise", "severity": 1, "accuracy": 0.97},
            {"perturbation": "gaussian noise", "severity": 3, "accuracy": 0.88},
        ],
    }
    build_module(
        mods / "bearing-diag.etm",
        onnx_fp32=tiny_onnx(),
        manifest=Manifest(
            name="bearing-diag",
            task="diagnosis",
            verification={"accuracy": 0.991},
            evidence=evidence,
        ),
    )
    plant = parse_plant(
        {"name": "pages", "assets": [{"path": PUMP, "signals": [{"name": "temp", "unit": "degC"}]}]}
    )
    store = open_store(tmp_path / "h.duckdb")
    twin = Twin.from_config(plant)
    t = 1_800_000_000 * S + np.arange(300, dtype=np.int64) * 60 * S
    names = ["rul", "rul_lo", "rul_hi", "anomaly_score", "health", "temp"]
    rul = np.linspace(500, 200, 300)
    values = [
        rul,
        rul - 40,
        rul + 60,
        np.linspace(0.5, 3, 300),
        np.linspace(1, 0.6, 300),
        np.full(300, 50.0),
    ]
    for n, v in zip(names, values, strict=True):
        table = make_samples(t, f"{PUMP}/{n}", v)
        store.append(table)
        twin.ingest(table)
    png = tmp_path / "overlay.png"
    img = np.zeros((64, 64, 3), np.uint8)
    img[20:40, 20:40] = (0, 0, 255)
    cv2.imwrite(str(png), img)
    twin.ingest(
        make_events(
            [int(t[-1])],
            PUMP,
            "inspection",
            500,
            {"overlay": str(png), "verdict": "defect", "score": 0.91},
        )
    )
    app = create_app(twin, store, token_store=TokenStore(None), modules_dir=mods)
    with ServerThread(app, port=port) as srv, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"{srv.url}/#/modules")
            expect(page.locator("main table")).to_contain_text("bearing-diag")
            expect(page.locator("main table")).to_contain_text("valid")
            page.click("text=bearing-diag")
            expect(page.locator("#mod")).to_contain_text("gaussian noise")
            expect(page.locator("#mod")).to_contain_text("0.8800")  # accuracy at severity 3
            expect(page.locator("#mod")).to_contain_text("0.9910")

            page.goto(f"{srv.url}/#/asset/{PUMP}")
            expect(page.locator(".chart h3")).to_have_text(
                ["temp", "anomaly score and health", "RUL with interval"]
            )
            expect(page.locator(".chart canvas")).to_have_count(3)
            expect(page.locator("#kpis")).to_contain_text(
                "160 – 260"
            )  # RUL interval of the last sample
            img_el = page.locator("#gallery img")
            expect(img_el).to_have_count(1)
            page.wait_for_function("document.querySelector('#gallery img').naturalWidth === 64")
            expect(page.locator("#gallery figcaption")).to_contain_text("defect")
            page.screenshot(path=str(tmp_path / "asset_page.png"), full_page=True)
        finally:
            browser.close()
    store.close()
