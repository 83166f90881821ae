"""Reading a tensor's value from an ONNX file that may not hold it.

hnnframe reads structure, never weights: initializers and Constant values are often absent
(external data left behind, ``strip_weights``, or a file whose tensors list their dims but
carry no bytes). Only small integer tensors (shapes, axes) and scalars (quantizer scales) are
ever read, and only through :func:`tensor_value`, which says "unknown" instead of failing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def tensor_value(t: Any) -> np.ndarray | None:
    """The value of an ONNX TensorProto, or None when the file does not hold it.

    None for external data (never loaded, present or not) and for a tensor whose data fields
    hold fewer elements than its dims say (numpy would fail with "cannot reshape array of
    size 0 into shape (2,)").
    """
    import onnx
    from onnx import numpy_helper

    if not isinstance(t, onnx.TensorProto):
        return None
    if t.data_location == onnx.TensorProto.EXTERNAL:
        return None
    try:
        arr = numpy_helper.to_array(t)
    except Exception:  # missing or short data in any of the storage fields
        return None
    if arr.size != math.prod(t.dims):
        return None
    return arr
