"""The larger models of the reference: W32-640 (the W32 network at input 640) and W48-640
(layout, synthetic weights, forward fixture, ONNX export), and the wrong-variant check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from higherhrnet.model.checkpoint import CheckpointError, load_model, load_weights
from higherhrnet.model.network import build_model
from higherhrnet.model.variants import VARIANTS, get_variant
from higherhrnet.preprocess.shapes import shape_set
from higherhrnet.model.synthetic_weights import default_file_name, is_synthetic, synthetic_state_dict
from support.weights import assert_matches_checksums, read_tsv


@pytest.fixture(scope="session")
def w48_state():
    return synthetic_state_dict("w48_640")


@pytest.fixture(scope="session")
def w48_model(w48_state):
    return load_weights(build_model("w48_640"), w48_state, "synthetic w48_640")


@pytest.fixture(scope="session")
def w48_forward(reference, w48_model):
    """The 640x640 forward of the fixture's input: done once per session (seconds on CPU)."""
    data = np.load(reference / "variants" / "forward_w48_640x640.npz")
    with torch.no_grad():
        outputs = [t.numpy() for t in w48_model(torch.from_numpy(data["input"]))]
    return data, outputs


def test_variants():
    assert [(v.name, v.width, v.input_size) for v in VARIANTS.values()] == [
        ("w32_512", 32, 512), ("w32_640", 32, 640), ("w48_640", 48, 640),
        ("crowdpose_w32_512", 32, 512), ("crowdpose_w32_640", 32, 640),
        ("crowdpose_w48_640", 48, 640)]
    with pytest.raises(ValueError, match="w48_640"):
        get_variant("w64")
    w32 = build_model("w32_640").state_dict()
    assert [(k, v.shape) for k, v in w32.items()] == [
        (k, v.shape) for k, v in build_model().state_dict().items()]


def test_w48_layout_matches_reference(reference):
    rows = read_tsv(reference / "variants" / "higherhrnet_w48_640_state_dict.tsv")
    model = build_model("w48_640")
    got = [(k, ",".join(map(str, v.shape)), str(v.dtype).removeprefix("torch."))
           for k, v in model.state_dict().items()]
    assert got == [(r["name"], r["shape"], r["dtype"]) for r in rows]
    assert len(rows) == 1810
    assert sum(p.numel() for p in model.parameters()) == 63_827_139


def test_w48_synthetic_weights_match_every_checksum_row(reference, w48_state):
    assert_matches_checksums(reference / "variants" / "synthetic_weights_w48_640_checksums.tsv",
                             w48_state)
    assert is_synthetic(w48_state)


def test_w48_forward_matches_reference_fixture(w48_forward):
    data, outputs = w48_forward
    assert outputs[0].shape == (1, 34, 160, 160) and outputs[1].shape == (1, 17, 320, 320)
    for i in range(2):
        np.testing.assert_allclose(outputs[i], data[f"output{i}"], atol=1e-4, rtol=1e-4)


def test_wrong_variant_names_both_layouts(tmp_path, synthetic_weights_path):
    with pytest.raises(CheckpointError) as err:
        load_model(synthetic_weights_path, variant="w48_640")
    text = str(err.value)
    assert "HigherHRNet-W32" in text and "HigherHRNet-W48" in text
    assert "w48_640" in text and "w32_512" in text and "model.variant" in text
    # W32-640 shares the W32 layout and weights
    assert isinstance(load_model(synthetic_weights_path, variant="w32_640"), torch.nn.Module)


def test_w48_checkpoint_for_w32_model(tmp_path, w48_state):
    path = tmp_path / default_file_name("w48_640")
    torch.save(w48_state, path)
    with pytest.raises(CheckpointError, match=r"HigherHRNet-W48 .*HigherHRNet-W32"):
        load_model(path)


@pytest.mark.slow
def test_w48_onnx_export_matches_pytorch(tmp_path, w48_model, w48_forward):
    """The legacy-exporter ONNX graph (as export.py makes it) against PyTorch on shapes of the
    variant's set, within tolerance (two engines: never compared exactly)."""
    from higherhrnet.model.export import check_export, export_onnx, ort_session

    onnx_path = export_onnx(w48_model, tmp_path / "w48.onnx")
    shapes = [(704, 640), (640, 768)]  # a portrait and a landscape one; 640x640 below
    assert set(shapes) <= set(shape_set(640, [1]))
    report = check_export(onnx_path, w48_model, shapes, atol=1e-3, rtol=1e-3)
    assert report["ok"]
    data, outputs = w48_forward
    got = ort_session(onnx_path).run(None, {"input": data["input"]})
    for i in range(2):
        np.testing.assert_allclose(got[i], outputs[i], atol=1e-3, rtol=1e-3)


def test_ascend_compiles_the_variants_shapes():
    """ATC's --dynamic_dims: the guide's 17 for W32-512, the size rule's set at 640 and with
    scales (the Ascend backend's shape check uses the same set)."""
    import argparse

    from higherhrnet.inference.ascend.cann import add_shape_args, shapes_from_args
    from higherhrnet.inference.ascend.compile import atc_argv

    def dims(*argv):
        parser = argparse.ArgumentParser()
        add_shape_args(parser)
        shapes = shapes_from_args(parser.parse_args(list(argv)))
        arg = [a for a in atc_argv("m.onnx", "out", "Ascend310P3", shapes=shapes)
               if a.startswith("--dynamic_dims=")][0]
        return arg.removeprefix("--dynamic_dims=").split(";")

    assert dims() == [f"{h},{w}" for h, w in shape_set()]
    assert len(dims()) == 17 and dims()[0] == "1024,512"
    assert len(dims("--variant", "w48_640")) == 21 and dims("--variant", "w48_640")[0] == "1280,640"
    multi = dims("--variant", "w32_640", "--scales", "2,1,0.5")
    assert len(multi) == 33 and "2560,1280" in multi and "320,320" in multi
