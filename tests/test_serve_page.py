"""The review page in a real headless Chromium: upload a model, read the verdict, the nearest
models with distance, tier and family, and the operator counts that differ; a bad upload shows
its one-line error; a name a stranger chose is shown as text, never run as HTML."""

from __future__ import annotations

import shutil

import pytest
from support.browser import check_on_page, chromium, missing
from support.serve import serving

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")
pytest_plugins = ["support.index"]


def test_review_page_in_headless_chromium(tmp_path, tiny_checkpoint, tiny_onnx_models):
    from selenium.webdriver.common.by import By

    from hnnframe.cli import main

    store = tmp_path / "store"
    store.mkdir()
    for p in tiny_onnx_models:
        shutil.copy(p, store / p.name)
    db = tmp_path / "index.db"
    assert (
        main(
            [
                "index",
                "add",
                "--db",
                str(db),
                "--checkpoint",
                str(tiny_checkpoint),
                "--label",
                "tiny-zoo",
                *[str(store / p.name) for p in tiny_onnx_models[:3]],
            ]
        )
        == 0
    )
    hostile = tmp_path / "<img src=x onerror=alert(1)>.onnx"
    hostile.write_bytes(b"not a model")
    with (
        serving("--db", db, "--data-dir", tmp_path / "data", "--storage-root", store) as s,
        chromium() as driver,
    ):
        out = check_on_page(driver, s.url + "/", upload=store / "resnet_d1.onnx")
        assert out.get_attribute("data-state") == "done"
        banner = out.find_element(By.CSS_SELECTOR, ".banner").text
        assert banner.startswith("SUSPECT: resnet_d1.onnx") and "exact file" in banner
        rows = out.find_elements(By.CSS_SELECTOR, "#candidates tr")[1:]
        first = [td.text for td in rows[0].find_elements(By.TAG_NAME, "td")]
        assert first[1] == "resnet_d1" and first[3] == "0" and first[4] == "exact file"
        # the family is the label the indexed model was added under, never a predicted category
        assert first[2] == "tiny-zoo" and first[6] == "same operator counts"
        # a model not indexed: its structural neighbours and which operators differ
        out = check_on_page(driver, s.url + "/", path="mlp_3.onnx")
        rows = out.find_elements(By.CSS_SELECTOR, "#candidates tr")[1:]
        assert rows and all(r.find_elements(By.TAG_NAME, "td")[6].text for r in rows)
        assert any("Gemm" in r.text for r in rows)
        # a bad upload: the server's one-line error; the stranger's name stays text
        out = check_on_page(driver, s.url + "/", upload=hostile)
        assert out.get_attribute("data-state") == "error"
        assert "Error 422" in out.text and "onerror" in out.text
        assert not out.find_elements(By.TAG_NAME, "img")


def test_review_page_shows_the_weight_comparison(tmp_path, weight_bed, tiny_checkpoint):
    """A weight match on the page: the code distance against the threshold, with its
    false-positive rate, and the share of identical tensors."""
    from selenium.webdriver.common.by import By

    with (
        serving(
            "--db",
            tmp_path / "w.db",
            "--checkpoint",
            tiny_checkpoint,
            "--data-dir",
            tmp_path / "data",
        ) as s,
        chromium() as driver,
    ):
        with open(weight_bed["exact_onnx"], "rb") as f:
            assert s.client.post("/v1/models", files={"file": ("base.onnx", f)}).status_code == 201
        out = check_on_page(driver, s.url + "/", upload=weight_bed["fp16"])
        assert "weight match" in out.find_element(By.CSS_SELECTOR, ".banner").text
        cells = out.find_elements(By.CSS_SELECTOR, "#candidates tr")[1].find_elements(
            By.TAG_NAME, "td"
        )
        weights = cells[5].text
        assert "code distance" in weights and "threshold" in weights and "FPR" in weights
        assert "% of tensors identical" in weights
