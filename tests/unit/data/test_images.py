"""read_image_rgb: reference semantics on good images, defined behaviour on odd and bad ones."""

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from higherhrnet.errors import WorkflowError
from higherhrnet.data.images import check_size, read_image_rgb

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)


def _jpeg_bytes(arr=RGB, **kw):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def test_sample_images_equal_reference_read(coco_sample):
    for path in sorted((coco_sample / "images").glob("*.jpg"))[:3]:
        ref = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        got = read_image_rgb(path)
        assert got.dtype == np.uint8 and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref[:, :, ::-1])


def test_exif_orientation_is_ignored(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "rot.jpg"
    p.write_bytes(_jpeg_bytes(exif=exif.tobytes()))
    assert cv2.imread(str(p), cv2.IMREAD_COLOR).shape == (60, 40, 3)  # cv2 would rotate
    assert read_image_rgb(p).shape == (40, 60, 3)  # stored layout, as the reference


def test_png_round_trip_exact(tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(RGB).save(p)
    np.testing.assert_array_equal(read_image_rgb(p), RGB)


def test_grayscale_copied_to_three_channels(tmp_path):
    g = RGB[..., 0]
    p = tmp_path / "g.png"
    Image.fromarray(g).save(p)
    out = read_image_rgb(p)
    assert out.shape == (40, 60, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)


def test_cmyk_jpeg_decoded_like_pillow(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(RGB).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    out = read_image_rgb(p)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    pil = np.asarray(Image.open(p).convert("RGB")).astype(int)
    assert np.abs(out.astype(int) - pil).max() <= 1
    assert np.abs(out.astype(int) - RGB.astype(int)).mean() < 4  # colours survive


def test_16bit_png_shifted_to_8bit(tmp_path):
    x16 = RNG.integers(0, 65536, (40, 60, 3), dtype=np.uint16)
    p = tmp_path / "x16.png"
    assert cv2.imwrite(str(p), x16)  # cv2 writes BGR
    out = read_image_rgb(p)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, (x16 >> 8).astype(np.uint8)[..., ::-1])


def test_png_alpha_dropped(tmp_path):
    rgba = RNG.integers(0, 256, (40, 60, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: the colour is still what we get
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    np.testing.assert_array_equal(read_image_rgb(p), rgba[..., :3])


def test_missing_file(tmp_path):
    with pytest.raises(WorkflowError, match=r"nope\.jpg: file not found"):
        read_image_rgb(tmp_path / "nope.jpg")


def test_directory_is_not_an_image(tmp_path):
    d = tmp_path / "d.jpg"
    d.mkdir()
    with pytest.raises(WorkflowError, match="not a regular file"):
        read_image_rgb(d)


def test_zero_byte_file(tmp_path):
    p = tmp_path / "z.jpg"
    p.write_bytes(b"")
    with pytest.raises(WorkflowError, match=r"z\.jpg: file is empty \(0 bytes\)"):
        read_image_rgb(p)


def test_garbage_bytes(tmp_path):
    p = tmp_path / "g.jpg"
    p.write_bytes(b"this is not an image" * 50)
    with pytest.raises(WorkflowError, match=r"g\.jpg: cannot be decoded"):
        read_image_rgb(p)


def test_truncated_jpeg_refused_although_cv2_decodes_it(tmp_path):
    data = _jpeg_bytes()
    p = tmp_path / "t.jpg"
    p.write_bytes(data[: len(data) * 2 // 3])
    # OpenCV alone would hand back a partly grey image (and only print a warning) ...
    assert cv2.imread(str(p), cv2.IMREAD_COLOR) is not None
    # ... we refuse it with the file name and the reason.
    with pytest.raises(WorkflowError, match=r"t\.jpg: truncated JPEG"):
        read_image_rgb(p)


def test_jpeg_with_trailing_padding_accepted(tmp_path):
    p = tmp_path / "pad.jpg"
    p.write_bytes(_jpeg_bytes() + b"\x00" * 100)
    assert read_image_rgb(p).shape == (40, 60, 3)


def test_truncated_png_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "PNG")
    p = tmp_path / "t.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(WorkflowError, match=r"t\.png: cannot be decoded"):
        read_image_rgb(p)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    p = tmp_path / "u.jpg"
    p.write_bytes(_jpeg_bytes())
    p.chmod(0)
    with pytest.raises(WorkflowError, match="not readable"):
        read_image_rgb(p)


def test_size_mismatch_names_both_sizes():
    img = np.zeros((40, 60, 3), np.uint8)
    check_size(img, "a.jpg", 60, 40)
    with pytest.raises(WorkflowError, match=r"a\.jpg: size 60x40 disagrees with the annotation's 640x480"):
        check_size(img, "a.jpg", 640, 480)
