"""The weight tier (issue 12): is an uploaded model *the protected model's weights*, not only
its architecture?

Modules, each with one job: ``readers`` (tensors one at a time from ONNX, safetensors and
state dicts, dequantized and widened to float32), ``digests`` (exact tensor digests, blind
to names, order, format and transposed storage), ``code`` (the weight perceptual code),
``fingerprint`` (a file's fingerprint and :func:`match` of two), ``testbed_models``,
``copies`` and ``testbed`` (the trained test bed), ``evaluate`` (per-kind AUC and the shipped
threshold, ``threshold.json``). Nothing here imports torch except where a state dict is read
or the test bed is trained. See docs/weights.md.
"""
