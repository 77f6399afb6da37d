"""The exportable RUL network: a small dilated 1D CNN over [batch, window, features].

Framework-free torch (no training code here) so it exports to ONNX as is. Dilations 1, 2, 4
give a receptive field of 15 cycles at the top layer; the head reads the last cycle (where the
engine is now), the mean over the window (its recent level) and the max (its worst excursion).
The output is RUL in cycles: the net predicts a fraction of the cap and scales it back, which
keeps the regression target near unit scale. Importing this module imports torch: only training
and export code may import it.

ReLU, not GELU: onnxruntime fuses Conv+Relu into one int8 `QLinearConv`, while GELU has no int8
kernel, so a GELU net's INT8 twin dequantises and requantises around every activation (it ran
slower than fp32). `GroupedRulEnsemble` folds the trained members into one network whose
convolutions have ``groups = members``: each layer is one larger op instead of one small op per
member, which is what makes small-batch inference fast in fp32 and int8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

DILATIONS = (2, 4)
#: Where the residual blocks apply their activation: ``"branch"`` adds the activated
#: convolution to its input (``h + act(conv(h))``); ``"sum"`` activates the sum
#: (``act(h + conv(h))``, the original ResNet block), whose skip connection folds into the
#: convolution's centre tap at export, so the grouped graph has no residual ``Add`` at all.
RESIDUALS = ("branch", "sum")


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky":
        return nn.LeakyReLU(0.1)
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"activation {name!r}: use 'relu', 'leaky' or 'gelu'")


class RulCnn(nn.Module):
    """Dilated residual 1D CNN: [batch, window, features] -> RUL [batch, 1] in cycles."""

    def __init__(
        self,
        n_features: int,
        channels: int = 64,
        dropout: float = 0.2,
        cap_cycles: float = 125.0,
        activation: str = "relu",
        head_activation: str | None = None,
        residual: str = "branch",
    ):
        super().__init__()
        if residual not in RESIDUALS:
            raise ValueError(f"residual {residual!r}: use one of {RESIDUALS}")
        self.cap_cycles = float(cap_cycles)
        self.residual = residual
        self.activation = activation
        self.head_activation = head_activation or activation
        self.inp = nn.Conv1d(n_features, channels, kernel_size=5, padding=2)
        self.blocks = nn.ModuleList(
            [nn.Conv1d(channels, channels, kernel_size=3, dilation=d, padding=d) for d in DILATIONS]
        )
        self.act = _activation(activation)
        self.head = nn.Sequential(
            nn.Linear(3 * channels, 64),
            _activation(self.head_activation),
            nn.Dropout(dropout),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x.transpose(1, 2)))
        for conv in self.blocks:
            h = self.act(h + conv(h)) if self.residual == "sum" else h + self.act(conv(h))
        pooled = torch.cat([h[:, :, -1], h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.head(pooled) * self.cap_cycles


class RulEnsemble(nn.Module):
    """Mean of several members, member by member (the training-side ensemble)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members], dim=0).mean(dim=0)


class GroupedRulEnsemble(nn.Module):
    """The members' mean as one network: grouped convolutions, grouped head, folded scale.

    Exactly the same function as `RulEnsemble` of the same `RulCnn` members (checked at export
    to 0.05 cycles). Layer by layer: the input convolution stacks the members' filters
    (``M*C`` outputs), the residual convolutions use ``groups = M``. The pooled features
    (last, mean, max of each channel) sit side by side as a length-3 axis, so the head's first
    layer is a grouped convolution of kernel 3 over them (no reshape); the last layer is one
    linear layer over all members' hidden units whose weights carry ``cap / M`` of each
    member's weights, which averages the members and scales to cycles in one op.

    ``channels_last_head=True`` transposes the head's hidden layer to [batch, 1, M*hid] before
    flattening it (the same values: that axis has length 1). onnxruntime runs int8 convolutions
    channels-last, and this transpose cancels the one it would otherwise insert after the head
    convolution, so the INT8 twin is exported this way; the fp32 graph is exported without it
    (for fp32 it would be one more op).
    """

    def __init__(self, members: Sequence[RulCnn], channels_last_head: bool = False):
        super().__init__()
        ms: list[Any] = list(members)  # torch's Module typing can't see submodule types
        m0 = ms[0]
        n_m = len(ms)
        c = m0.inp.out_channels
        f = m0.inp.in_channels
        hid = m0.head[0].out_features
        self.cap_cycles = m0.cap_cycles
        self.n_members = n_m
        self.channels_last_head = channels_last_head
        self.residual = m0.residual
        if any(m.residual != self.residual for m in ms):
            raise ValueError("members mix residual forms; train them with one `residual`")
        self.inp = nn.Conv1d(f, n_m * c, kernel_size=5, padding=2)
        self.blocks = nn.ModuleList(
            [
                nn.Conv1d(n_m * c, n_m * c, kernel_size=3, dilation=d, padding=d, groups=n_m)
                for d in DILATIONS
            ]
        )
        self.act = _activation(m0.activation)
        # the head: fc1 a grouped convolution of kernel 3 over (last, mean, max), fc2 linear
        self.fc1 = nn.Conv1d(n_m * c, n_m * hid, kernel_size=3, groups=n_m)
        self.act2 = _activation(m0.head_activation)
        self.fc2 = nn.Linear(n_m * hid, 1)
        with torch.no_grad():
            self.inp.weight.copy_(torch.cat([m.inp.weight for m in ms], dim=0))
            self.inp.bias.copy_(torch.cat([m.inp.bias for m in ms]))  # type: ignore[union-attr]
            blocks: list[Any] = list(self.blocks)
            for i, blk in enumerate(blocks):
                blk.weight.copy_(torch.cat([m.blocks[i].weight for m in ms], dim=0))
                blk.bias.copy_(torch.cat([m.blocks[i].bias for m in ms]))
                if self.residual == "sum":
                    # h + conv(h) is conv(h) with 1 added at each channel's own centre tap
                    # (the tap at offset 0 for any dilation, since padding = dilation)
                    own = torch.arange(n_m * c)
                    blk.weight[own, own % c, 1] += 1.0
            # member weights [hid, 3c] read (last, mean, max) x channel; the kernel here is
            # [hid, channel, (last, mean, max)]
            w1 = [m.head[0].weight.view(hid, 3, c).transpose(1, 2) for m in ms]
            self.fc1.weight.copy_(torch.cat(w1, dim=0))
            self.fc1.bias.copy_(torch.cat([m.head[0].bias for m in ms]))  # type: ignore[union-attr]
            scale = self.cap_cycles / n_m
            self.fc2.weight.copy_(torch.cat([m.head[3].weight for m in ms], dim=1) * scale)
            self.fc2.bias.copy_(torch.stack([m.head[3].bias for m in ms]).sum(dim=0) * scale)  # type: ignore[union-attr]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x.transpose(1, 2)))
        for conv in self.blocks:
            # "sum": the skip connection is folded into conv's weights (see __init__)
            h = self.act(conv(h)) if self.residual == "sum" else h + self.act(conv(h))
        # pooling ops with int8 kernels (Slice, GlobalAveragePool, MaxPool), so the INT8 twin
        # stays in int8 up to the head; same values as last / mean / max over the window
        t = int(h.shape[2])
        pooled = torch.cat(
            [h[:, :, t - 1 :], F.adaptive_avg_pool1d(h, 1), F.max_pool1d(h, t)], dim=2
        )
        z = self.fc1(pooled)  # [batch, members*hid, 1]
        if self.channels_last_head:
            z = z.transpose(1, 2)
        return self.fc2(self.act2(z.flatten(1)))


#: ONNX opset of the exported graph: 20 has ``Gelu`` as one op (17 spells it as five), which
#: the INT8 twin runs as one float op between its int8 convolutions.
OPSET = 20


def grouped_onnx(
    members: Sequence[RulCnn], window: int, n_features: int, *, channels_last_head: bool = False
) -> bytes:
    """The members as one grouped ONNX graph: ``windows`` [batch, window, features] -> ``rul``
    [batch, 1], opset `OPSET`, batch axis dynamic (the graph the module ships; the INT8 twin
    is quantised from the same graph exported with ``channels_last_head=True``)."""
    import io
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the tracer warns that the window length becomes a constant: it is one (the graph's
        # time axis is fixed, only the batch axis is dynamic), so the warning is noise to users
        warnings.filterwarnings(
            "ignore", "Converting a tensor to a Python integer", torch.jit.TracerWarning
        )
        torch.onnx.export(
            GroupedRulEnsemble(members, channels_last_head=channels_last_head).eval(),
            (torch.zeros(1, window, n_features),),
            buf,  # type: ignore[arg-type]
            input_names=["windows"],
            output_names=["rul"],
            dynamic_axes={"windows": {0: "batch"}, "rul": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()
