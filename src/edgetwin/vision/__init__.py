"""Visual inspection: PatchCore-family anomaly detection on EfficientNet-Lite0 patch features.

Learn good parts only, threshold on good parts only, ship one ONNX graph (backbone + nearest-
neighbour search) as a signed edge module. Importing this package, and inspecting with a module
(`edgetwin.vision.inspect.Inspector`), needs no torch; training (`edgetwin.vision.train`) does.
See docs/vision.md.
"""
