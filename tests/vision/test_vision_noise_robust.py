"""The opt-in noise-robust patch features: block 5's expanded activation + block 10."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.vision import metrics
from edgetwin.vision.export import run_onnx
from edgetwin.vision.image import to_batch
from edgetwin.vision.synthetic import InspectionStation

SIZE = (128, 128)


def test_expanded_activation_is_taken_before_the_depthwise_conv() -> None:
    import torch
    import torch.nn.functional as F

    from edgetwin.vision.torch_model import PatchFeatures, load_backbone

    pf = PatchFeatures(load_backbone(), (10,), expanded_layers=(5,)).eval()
    x = torch.rand(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        f = pf(x)
        # by hand: the same pre-processing, blocks 0-4, then block 5's expand conv + BN + act
        b = pf.border_px
        h = pf.stem((F.pad(pf.standardise(x), (b, b, b, b), mode="reflect") - pf.mean) / pf.std)
        for block in pf.blocks[:5]:
            h = block(h)
        blk = pf.blocks[5]
        e = pf.pool(blk._swish(blk._bn0(blk._expand_conv(h))))
    c = b // 8
    assert f.shape == (2, 240 + 112, 96 // 8, 128 // 8)
    torch.testing.assert_close(f[:, :240], e[:, :, c:-c, c:-c])


def test_a_block_without_expand_conv_is_refused_with_the_fix() -> None:
    from edgetwin.vision.torch_model import PatchFeatures, load_backbone

    with pytest.raises(ValueError, match="block 0 has no expand conv.*e.g. 5"):
        PatchFeatures(load_backbone(), (10,), expanded_layers=(0,))


@pytest.mark.parametrize(
    ("layers", "expanded", "message"),
    [
        ((10,), (), "layers: the first feature map \\(block 10\\) is at stride 16"),
        ((2, 4), (), "layers: the first feature map \\(block 2\\) is at stride 4"),
        ((10,), (3,), "expanded_layers: the first feature map \\(block 3\\) is at stride 4"),
    ],
)
def test_a_first_map_off_the_stride_8_grid_is_refused_with_the_fix(
    layers: tuple[int, ...], expanded: tuple[int, ...], message: str
) -> None:
    """The crop and the search assume an image/8 grid; another stride must not pass silently."""
    from edgetwin.vision.torch_model import PatchFeatures, load_backbone

    with pytest.raises(ValueError, match=message + ".*needs stride 8.*expanded_layers block 5"):
        PatchFeatures(load_backbone(), layers, expanded_layers=expanded)


def test_every_stride_8_first_map_is_accepted_on_the_image_over_8_grid() -> None:
    import torch

    from edgetwin.vision.torch_model import PatchFeatures, load_backbone

    for ok_layers, ok_expanded in (((4, 10), ()), ((10,), (5,)), ((3,), ())):
        f = PatchFeatures(load_backbone(), ok_layers, expanded_layers=ok_expanded).eval()
        with torch.inference_mode():
            assert f(torch.rand(1, 3, 64, 64)).shape[-2:] == (8, 8)  # 64 / 8: the border is cropped


def test_noise_robust_detector_fits_exports_and_records_its_layers() -> None:
    from edgetwin.vision.patchcore import NOISE_ROBUST_LAYERS, PatchCore

    station = InspectionStation(size=SIZE, defect_rate=0.0, seed=3)
    layers, expanded = NOISE_ROBUST_LAYERS
    det = PatchCore(
        image_size=SIZE, bank_size=256, batch_size=6, layers=layers, expanded_layers=expanded
    ).fit([p.image for p in station.parts(10)])
    assert det.memory_bank_.shape == (256, 352)
    hp = det.hyperparameters()
    assert hp["layers"] == [10] and hp["expanded_layers"] == [5] and hp["feature_dim"] == 352
    good = [p.image for p in station.parts(6, start=100)]
    bad = [station.defective(d, i) for i in range(3) for d in ("crack", "blowhole")]
    imgs = good + [p.image for p in bad]
    maps, scores = run_onnx(det.to_onnx(), to_batch(imgs))
    ref_maps, ref_scores = det.predict(imgs)
    np.testing.assert_allclose(scores, ref_scores, rtol=5e-3, atol=1e-3)
    assert metrics.image_auroc(np.array([0] * 6 + [1] * 6), scores) >= 0.9
