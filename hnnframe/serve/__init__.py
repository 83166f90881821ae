"""``hnn serve``: the hash index as an HTTP service, the server of the paper's Figure 1 (Zhu
et al. 2022, Section 1): the platform hashes what it holds, and every upload is checked against
it before it is published.

One FastAPI app (:mod:`hnnframe.serve.app`) per uvicorn worker keeps the checkpoint's hasher
and the index open (:mod:`hnnframe.serve.service`); uploads stream to disk under limits
(:mod:`hnnframe.serve.uploads`); large ones go through jobs kept on disk, so any worker can
answer for them (:mod:`hnnframe.serve.jobs`). Importing this package imports neither FastAPI
nor torch: ``hnn --help`` stays fast. See docs/serve.md.
"""
