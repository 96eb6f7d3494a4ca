"""Kernels for the hot spots of keras-avl (`custom_ops/README.md` lists them):
`fused_mfb`, the MFB attention of eqs. 3-6 with less work than the reference
`MFBPooling` path, `xla_program`, which tells it that its caller is compiled
by XLA already, and `affine`, x W + b (+ ReLU) whose gradients are all
matrix products."""

from keras_avl.ops.affine import affine
from keras_avl.ops.fused_mfb import SUPPORTED_BACKENDS, fused_mfb, in_xla_program, xla_program

__all__ = ["SUPPORTED_BACKENDS", "affine", "fused_mfb", "in_xla_program", "xla_program"]
