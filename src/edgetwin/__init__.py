"""edgetwin: AI for factory automation on one box or a fleet.

Importing the package must stay cheap and must never import torch: the edge runtime
runs on numpy + onnxruntime alone.
"""

__version__ = "0.1.0"
