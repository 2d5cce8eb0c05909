"""The reference's test-time transform: similarity warp, ToTensor + Normalize, width flip.

Facts: docs/reference.md, "Input size and warp". The warp matrix is built the way the
reference's ``get_affine_transform`` builds it (three float32 point pairs through
``cv2.getAffineTransform``), which reproduces the fixture's float64 matrices to the last
bit; the same construction in the other direction maps predictions back to the image
(:func:`higherhrnet.postprocess.coco_results.to_image`).  It is a similarity: ``x_in =
k * (x - cx) + w_in / 2`` with ``k = 512 / short side`` (the same for y).
"""

from __future__ import annotations

import numpy as np

from .shapes import Geometry

#: torchvision ``Normalize`` constants of the reference, RGB order.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def reference_affine(geom: Geometry, inverse: bool = False) -> np.ndarray:
    """2x3 float64 image -> input matrix (input -> image with ``inverse``), exactly as
    ``get_affine_transform(rot=0, inv=inverse)`` makes it.

    Source points: the centre, the point half a source width above it, and the third point
    of the right angle; destination: the same construction on the input canvas.
    """
    import cv2

    cx, cy = geom.center
    src_w = geom.scale[0] * 200.0
    dst_w, dst_h = geom.input_w, geom.input_h

    def third(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = a - b
        return b + np.array([-d[1], d[0]], dtype=np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = (cx, cy)
    src[1] = (cx, cy - src_w * 0.5)
    dst[0] = (dst_w * 0.5, dst_h * 0.5)
    dst[1] = (dst_w * 0.5, dst_h * 0.5 - dst_w * 0.5)
    src[2] = third(src[0], src[1])
    dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inverse else cv2.getAffineTransform(src, dst)


def warp_to_input(img_rgb: np.ndarray, geom: Geometry) -> np.ndarray:
    """uint8 H x W x 3 image -> uint8 ``input_h x input_w x 3`` network canvas.

    ``cv2.warpAffine`` with INTER_LINEAR and a constant black border, as in the reference
    (OpenCV's fixed-point bilinear arithmetic: only cv2 reproduces it bit for bit).
    """
    import cv2

    if img_rgb.dtype != np.uint8 or img_rgb.ndim != 3 or img_rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3, got {img_rgb.dtype} {img_rgb.shape}")
    if img_rgb.shape[:2] != (geom.height, geom.width):
        raise ValueError(f"image is {img_rgb.shape[1]}x{img_rgb.shape[0]}, "
                         f"geometry is for {geom.width}x{geom.height}")
    return cv2.warpAffine(img_rgb, reference_affine(geom), (geom.input_w, geom.input_h))


_MEAN32 = np.asarray(MEAN, dtype=np.float32).reshape(3, 1, 1)
_STD32 = np.asarray(STD, dtype=np.float32).reshape(3, 1, 1)


def to_normalized_tensor(warped: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 RGB -> float32 ``[1, 3, H, W]``: ToTensor then ImageNet Normalize.

    Same float32 operations in the same order as torchvision (``x / 255``, then
    ``(x - mean) / std`` with float32 constants), so the result is bit-identical.
    """
    # order="C": a plain astype would keep the HWC memory layout behind CHW strides,
    # which makes every later pass (and np.save) several times slower
    chw = np.transpose(warped, (2, 0, 1)).astype(np.float32, order="C")
    chw /= np.float32(255.0)
    chw -= _MEAN32
    chw /= _STD32
    return chw[None]


def flip_width(t: np.ndarray) -> np.ndarray:
    """Mirror along the last axis (``torch.flip(t, [3])``), as a contiguous copy."""
    return np.ascontiguousarray(t[..., ::-1])
