"""What an upload is to the hash index: its structural code, architecture digests, sha256,
tensor digests and weight code, described in one place (:mod:`hnnframe.upload.describe`), and
which file of a source carries its weights (:mod:`hnnframe.upload.files`).

Example::

    from hnnframe.hashing import Hasher
    from hnnframe.upload import describe_upload

    up = describe_upload("model.onnx", Hasher.from_checkpoint("model.pt"), weight_bits=256)
    print(up.hex, up.graph_digest, up.sha256, len(up.tensor_digests), up.weight_code)
"""

from hnnframe.upload.describe import (
    Described,
    StructureHasher,
    Upload,
    assemble,
    describe_upload,
    describe_uploads,
    iter_uploads,
)
from hnnframe.upload.files import ModelFiles, read_weights, resolve

__all__ = [
    "Described",
    "ModelFiles",
    "StructureHasher",
    "Upload",
    "assemble",
    "describe_upload",
    "describe_uploads",
    "iter_uploads",
    "read_weights",
    "resolve",
]
