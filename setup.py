"""Installs hnnframe, the perceptual hash of neural networks (HNN-Net, Zhu et al. 2022)."""

from setuptools import find_packages, setup

setup(
    name="hnnframe",
    version="0.1.0",
    description="Perceptual hashes of neural-network models (HNN-Net) on ONNX and DGL",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["hnnframe", "hnnframe.*"]),
    # The weight tier's threshold, written by `hnn weights eval` from the test bed.
    package_data={"hnnframe.weights": ["threshold.json"],
                  # The bundled recipes, found by bare name (hnnframe/recipe.py).
                  "hnnframe": ["recipes/*.yaml"],
                  # hnn serve's review page
                  "hnnframe.serve": ["static/*.html", "static/*.js"]},
    install_requires=[
        "torch>=2.0",
        "torchvision",
        "dgl==2.1.0",
        "onnx>=1.15",
        "networkx>=3.0",
        "optuna>=3.0",
        "tensorboard",
        "pyyaml",
        "numpy",
        "scipy",
        # DGL 2.1.0 imports pandas at import time.
        "pandas",
        "packaging",
        "tqdm",
        "matplotlib",
        "psycopg2-binary",
        # Robustness variants: real quantization (onnxruntime) and simplification (onnxsim).
        "onnxruntime",
        "onnxsim",
        # The other simplifier and the other float16 converter a hub user runs (issue 22).
        "onnxslim",
        "onnxconverter-common",
        # torch's dynamo ONNX exporter needs it.
        "onnxscript",
        # Hub sources: timm names and Hugging Face configs (built without weights).
        "timm",
        "transformers",
        # Weight tier: tensors read one by one from safetensors; the test bed's bundled data.
        "safetensors",
        "scikit-learn",
        # hnn serve: the HTTP service, its uploads, and the client in docs/serve.md and tests.
        "fastapi",
        "uvicorn",
        "python-multipart",
        "httpx",
        # GGUF files (llama.cpp) as uploads: metadata, tensors and their dequantization.
        "gguf",
    ],
    # selenium drives Debian's chromium + chromium-driver in the review page's test (skipped
    # when they are not installed).
    extras_require={"dev": ["pytest", "ruff", "selenium"]},
    entry_points={"console_scripts": ["hnn = hnnframe.cli:main"]},
)
