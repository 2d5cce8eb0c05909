"""The reference's CrowdPose models (issue 25): the same networks on 14 joints. Layouts,
synthetic weights and forwards against ../shared/reference/crowdpose, and the layout check
between COCO and CrowdPose checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from higherhrnet.model.checkpoint import CheckpointError, load_model, load_weights
from higherhrnet.model.network import build_model
from higherhrnet.model.synthetic_weights import default_file_name, is_synthetic, synthetic_state_dict
from support.weights import assert_matches_checksums, read_tsv

# (variant, fixture stem, its layout tsv, its forward fixture, seed, size)
MODELS = {
    "crowdpose_w32_512": ("w32_512", "forward_w32_512_crowdpose_512x512.npz", 21, 512),
    "crowdpose_w48_640": ("w48_640", "forward_w48_640_crowdpose_640x640.npz", 22, 640),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def crowdpose_model(request):
    variant = request.param
    state = synthetic_state_dict(variant)
    return variant, state, load_weights(build_model(variant), state, f"synthetic {variant}")


def test_layouts_match_the_reference(reference, crowdpose_model):
    variant, _, model = crowdpose_model
    stem = MODELS[variant][0]
    rows = read_tsv(reference / "crowdpose" / f"higherhrnet_{stem}_crowdpose_state_dict.tsv")
    got = [(k, ",".join(map(str, v.shape)), str(v.dtype).removeprefix("torch."))
           for k, v in model.state_dict().items()]
    assert got == [(r["name"], r["shape"], r["dtype"]) for r in rows]
    assert len(rows) == 1810


def test_w32_640_has_the_w32_512_layout():
    a, b = (build_model(v).state_dict() for v in ("crowdpose_w32_512", "crowdpose_w32_640"))
    assert [(k, v.shape) for k, v in a.items()] == [(k, v.shape) for k, v in b.items()]


def test_synthetic_weights_match_every_checksum_row(reference, crowdpose_model):
    variant, state, _ = crowdpose_model
    stem = MODELS[variant][0]
    assert_matches_checksums(
        reference / "crowdpose" / f"synthetic_weights_{stem}_crowdpose_checksums.tsv", state)
    assert is_synthetic(state)


def test_forward_matches_the_reference_fixture(reference, crowdpose_model):
    """Full forward of the fixture's input, compared on its stride-4 grid (atol=rtol=1e-4)."""
    variant, _, model = crowdpose_model
    _, npz, seed, size = MODELS[variant]
    data = np.load(reference / "crowdpose" / npz)
    assert int(data["seed"]) == seed
    x = np.random.default_rng(seed).standard_normal((1, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        out = [t.numpy() for t in model(torch.from_numpy(x))]
    assert out[0].shape == (1, 28, size // 4, size // 4)
    assert out[1].shape == (1, 14, size // 2, size // 2)
    stride = int(data["stride"])
    for i in range(2):
        np.testing.assert_allclose(out[i][:, :, ::stride, ::stride], data[f"output{i}"],
                                   atol=1e-4, rtol=1e-4)


def test_crowdpose_checkpoint_for_a_coco_model_names_both(tmp_path, crowdpose_model):
    variant, state, _ = crowdpose_model
    path = tmp_path / default_file_name(variant)
    torch.save(state, path)
    coco = "w48_640" if "w48" in variant else "w32_512"
    with pytest.raises(CheckpointError) as err:
        load_model(path, variant=coco)
    text = str(err.value)
    assert "14 joints" in text and variant in text and coco in text, text
