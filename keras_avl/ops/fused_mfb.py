"""Fused MFB attention (eqs. 3-6): XLA on JAX and in XLA-compiled
TensorFlow steps, TensorFlow's own batched products elsewhere.

`MFBPooling` forms x_s = (F_v,s U) * (F_a V) at width q*p for every one of the
S regions of a segment and then sum-pools each window of q channels (eq. 3).
Sum pooling commutes with the audio scaling:

    z~_s[j] = sum_k (F_v,s U)[j, k] (F_a V)[j, k] = F_v,s . U~[:, j],
    U~[:, j] = sum_k U[:, j, k] (F_a V)[j, k]    (one d_v x p matrix a segment)

so a segment costs O(d_v q p + S d_v p) multiply-adds instead of O(S d_v q p),
and no (S, q*p) tensor is ever formed: at AVE size (640 segments, S = 49,
d_v = 512, d_a = 128, q = 5, p = 256) forward + backward with the gradients
of the inputs is 28.8 GFLOP against the reference's 124.1
(`benchmarks/bench_mfb.py`, `path_flops`). U~ is per segment, stored as
(p, d_v) with d_v innermost (N x p x d_v in all, more than the reference's
N x S x q*p product when d_v > S q). Power and L2 normalisation (eq. 4), the
region softmax (eq. 5) and the attended sum (eq. 6) use the same float32
helpers as `MFBPooling`.

Two forms of the same contractions, each where it measured faster:

- Under XLA (`jax.jit` on JAX; inside a TensorFlow function that XLA compiles,
  declared by `xla_program`, as TensorFlow has no public way to ask): the
  segments go through in tiles and a custom gradient recomputes U~ tile by
  tile instead of keeping it. At AVE size, forward + backward: 2.59x the
  reference on JAX (`benchmarks/results/mfb_cpu_jax_ave.json`).
- On TensorFlow outside XLA (Keras' default on a CPU): all segments at once,
  each contraction one oneDNN batched product, U~ kept for the backward
  pass. The whole attention, forward + backward at AVE size on the 2-core
  CPU: 1.78x the reference, the tiled form 1.58x (in an XLA step, same run);
  eq. 3 alone 2.2x, the rest (eqs. 4-6, ~110 ms of
  the 472) is the same work on both paths
  (`benchmarks/results/mfb_cpu_tensorflow_ave.json`).

Other backends are refused with a `ValueError`; `MFBPooling` then runs its
reference `keras.ops` path.
"""

import contextlib
import functools
import threading

import keras
from keras import ops

from keras_avl.numerics import safe_l2_normalize, signed_sqrt

SUPPORTED_BACKENDS = ("tensorflow", "jax")
# Elements of one tile's U~ (segments x d_v x p) when `tile_size` is automatic.
# CPU: 2**20 floats, 4 MiB in float32 (8 segments at AVE's d_v = 512, p = 256):
# as fast as larger tiles on the benchmark CPU, with the least memory. GPU/TPU:
# 2**26 (512 AVE segments), so that one tile fills the device (not measured:
# no accelerator was available when this was written).
TILE_ELEMENTS = {"cpu": 2**20, "accelerator": 2**26}
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

# Per thread: a distribution strategy traces each replica's step in a thread
# of its own, where the step enters `xla_program` itself.
_xla_state = threading.local()


@contextlib.contextmanager
def xla_program(compiled=True):
    """Declares that the code in the block is traced into a TensorFlow
    function that XLA compiles (`tf.function(jit_compile=True)`, a Keras step
    of `jit_compile=True`), or with `compiled=False` that it is not.

    There `fused_mfb` inlines its body into the caller's XLA program: a nested
    XLA function would turn a variable that it reads into a compile-time
    constant, i.e. one new compilation per train step. Outside such a block,
    `fused_mfb` is an XLA function of its own. The models of `keras_avl.models`
    enter it in their train, test and predict steps; code that traces its own
    `tf.function(jit_compile=True)` around `MFBPooling` enters it in the
    traced function. Blocks nest; JAX (whose `jax.jit` nests without a
    separate program) does not need it.

    Args:
        compiled: whether the enclosing function is compiled by XLA.

    Example:

    >>> in_xla_program()
    False
    >>> with xla_program():
    ...     in_xla_program()
    True
    """
    previous = in_xla_program()
    _xla_state.compiled = bool(compiled)
    try:
        yield
    finally:
        _xla_state.compiled = previous


def in_xla_program():
    """Whether the innermost `xla_program` block of this thread declares an
    XLA-compiled trace (False outside any block)."""
    return getattr(_xla_state, "compiled", False)


def fused_mfb(visual, audio, U, V, W_z, b_z, U_bias=None, V_bias=None, tile_size=None):
    """MFB attention of `MFBPooling` for N segments in one XLA computation.

    Args:
        visual: `(N, S, d_v)` region features F_v, a float tensor.
        audio: `(N, d_a)` audio features F_a, the same dtype as `visual`.
        U: `(d_v, q * p)` visual projection of eq. 3.
        V: `(d_a, q * p)` audio projection of eq. 3.
        W_z: `(p, 1)` attention scorer of eq. 5.
        b_z: `(1,)` its bias.
        U_bias, V_bias: optional `(q * p,)` projection biases
            (`MFBPooling(use_bias=True)`); both or neither.
        tile_size: segments per tile under XLA, or None to pick the largest
            tile whose U~ has at most `TILE_ELEMENTS` elements (per device
            kind); TensorFlow outside XLA takes all segments at once. Results
            do not depend on it beyond float rounding.

    U and V are cast to the dtype of `visual`, W_z and b_z to float32, exactly
    as `MFBPooling` computes under a mixed-precision policy.

    Returns:
        Tuple `(attended, attention)`: `(N, d_v)` MF_v of eq. 6 and `(N, S)`
        lambda of eq. 5, both in the dtype of `visual`.

    Raises:
        ValueError: on an unsupported backend, non-float inputs, or shapes that
            do not fit together.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> visual = rng.random((6, 49, 16), dtype="float32")
    >>> audio = rng.random((6, 4), dtype="float32")
    >>> U = rng.random((16, 2 * 8), dtype="float32")
    >>> V = rng.random((4, 2 * 8), dtype="float32")
    >>> W_z, b_z = rng.random((8, 1), dtype="float32"), np.zeros(1, "float32")
    >>> attended, attention = fused_mfb(visual, audio, U, V, W_z, b_z)
    >>> tuple(attended.shape), tuple(attention.shape)
    ((6, 16), (6, 49))
    """
    backend = keras.backend.backend()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"fused_mfb runs on the backends {SUPPORTED_BACKENDS}; the current "
            f"Keras backend is {backend!r}. Use MFBPooling(fused=False) (its "
            "reference keras.ops path) there."
        )
    tensors = {"visual": visual, "audio": audio, "U": U, "V": V, "W_z": W_z, "b_z": b_z}
    if (U_bias is None) != (V_bias is None):
        raise ValueError(
            "fused_mfb needs both `U_bias` and `V_bias` or neither; received "
            f"U_bias={'None' if U_bias is None else 'a tensor'} and "
            f"V_bias={'None' if V_bias is None else 'a tensor'}."
        )
    if U_bias is not None:
        tensors.update(U_bias=U_bias, V_bias=V_bias)
    tensors = {name: _as_tensor(value) for name, value in tensors.items()}
    _check_dtypes(tensors)
    _check_shapes({name: tuple(value.shape) for name, value in tensors.items()})
    visual_dim, output_dim = tensors["U"].shape[0], tensors["W_z"].shape[0]
    if tile_size is None:
        tile_elements = TILE_ELEMENTS["accelerator" if _on_accelerator(backend) else "cpu"]
        tile_size = max(1, tile_elements // (visual_dim * output_dim))
    elif isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(
            f"`tile_size` must be a positive integer or None; received "
            f"tile_size={tile_size!r}."
        )
    compiled = _compiled_attention(backend, tile_size)
    return compiled(
        tensors["visual"],
        tensors["audio"],
        tensors["U"],
        tensors["V"],
        tensors["W_z"],
        tensors["b_z"],
        tensors.get("U_bias"),
        tensors.get("V_bias"),
    )


def _on_accelerator(backend):
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def _as_tensor(value):
    # A Keras variable (of a layer) is read into a tensor so that the compiled
    # function receives plain tensors on every backend.
    if isinstance(value, keras.Variable):
        value = value.value
    return ops.convert_to_tensor(value)


def _check_dtypes(tensors):
    for name, tensor in tensors.items():
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"fused_mfb expects floating-point `{name}` (one of "
                f"{FLOAT_DTYPES}); received dtype {dtype}."
            )
    visual_dtype = keras.backend.standardize_dtype(tensors["visual"].dtype)
    audio_dtype = keras.backend.standardize_dtype(tensors["audio"].dtype)
    if visual_dtype != audio_dtype:
        raise ValueError(
            "fused_mfb expects `visual` and `audio` of the same dtype; received "
            f"{visual_dtype} and {audio_dtype}."
        )


def _check_shapes(shapes):
    visual, audio, U, V, W_z = (shapes[n] for n in ("visual", "audio", "U", "V", "W_z"))
    received = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
    expected_ranks = {"visual": 3, "audio": 2, "U": 2, "V": 2, "W_z": 2, "b_z": 1}
    expected_ranks.update(U_bias=1, V_bias=1)
    problems = [
        f"`{name}` must have rank {expected_ranks[name]}"
        for name, shape in shapes.items()
        if len(shape) != expected_ranks[name]
    ]
    if not problems:
        width = U[1]
        if None in U + V + W_z or None in visual[1:] or audio[1] is None:
            problems.append("S, feature sizes and weights must have known shapes")
        else:
            if visual[0] is not None and audio[0] is not None and visual[0] != audio[0]:
                problems.append("`visual` and `audio` must have the same N")
            if visual[0] == 0:
                problems.append("N must be at least 1")
            if U[0] != visual[2]:
                problems.append("U must have d_v rows (visual.shape[-1])")
            if V[0] != audio[1]:
                problems.append("V must have d_a rows (audio.shape[-1])")
            if V[1] != width:
                problems.append("U and V must have the same width q*p")
            if W_z[1] != 1 or width % W_z[0]:
                problems.append("W_z must be (p, 1) with p dividing the width q*p")
            if shapes["b_z"] != (1,):
                problems.append("b_z must be (1,)")
            for name in ("U_bias", "V_bias"):
                if name in shapes and shapes[name] != (width,):
                    problems.append(f"{name} must be (q*p,)")
    if problems:
        raise ValueError(
            "fused_mfb expects visual (N, S, d_v), audio (N, d_a), U (d_v, q*p), "
            "V (d_a, q*p), W_z (p, 1), b_z (1,) and optional U_bias, V_bias "
            f"(q*p,): {'; '.join(problems)}. Received {received}."
        )


@functools.lru_cache(maxsize=None)
def _compiled_attention(backend, tile_size):
    attention = functools.partial(_mfb_attention, pooled_bilinear=_tiled_pooled_bilinear(tile_size))
    if backend == "tensorflow":
        batched = functools.partial(_mfb_attention, pooled_bilinear=_batched_pooled_bilinear())

        def run(*tensors):
            # Inside a step that XLA compiles (`jit_compile=True`) the tiled
            # body joins the step's program: a nested XLA function would turn
            # a variable it reads into a compile-time constant, one new
            # compilation per train step. Outside, TensorFlow's own batched
            # products (oneDNN) run the same factorisation (faster on a CPU,
            # see the module docstring).
            if in_xla_program():
                return attention(*tensors)
            return batched(*tensors)

        return run
    import jax

    return jax.jit(attention)


def _mfb_attention(visual, audio, U, V, W_z, b_z, U_bias, V_bias, pooled_bilinear):
    dtype = visual.dtype
    visual_dim, width = U.shape
    output_dim = W_z.shape[0]
    factor = width // output_dim
    # U as (p, q, d_v): row (j, k) is column j * q + k of U.
    U_rows = ops.transpose(
        ops.reshape(ops.cast(U, dtype), (visual_dim, output_dim, factor)), (1, 2, 0)
    )
    audio_proj = ops.matmul(audio, ops.cast(V, dtype))
    if V_bias is not None:
        audio_proj = audio_proj + ops.cast(V_bias, dtype)
    audio_windows = ops.reshape(audio_proj, (-1, output_dim, factor))
    pooled = pooled_bilinear(visual, audio_windows, U_rows)  # eq. 3
    if U_bias is not None:
        # (F_v U + U_bias) * F_a V pooled = F_v U~ + sum_k U_bias * F_a V.
        bias_windows = ops.reshape(ops.cast(U_bias, dtype), (output_dim, factor))
        pooled = pooled + ops.expand_dims(ops.sum(bias_windows * audio_windows, -1), -2)
    normalized = safe_l2_normalize(signed_sqrt(pooled))  # eq. 4, float32
    logits = ops.squeeze(ops.matmul(normalized, ops.cast(W_z, "float32")), -1)
    attention = ops.softmax(logits + ops.cast(b_z, "float32"), axis=-1)  # eq. 5
    attention = ops.cast(attention, dtype)
    attended = ops.sum(ops.expand_dims(attention, -1) * visual, axis=-2)  # eq. 6
    return attended, attention


def _batched_pooled_bilinear():
    """z~ (N, S, p) of eq. 3 as `_tiled_pooled_bilinear`, for TensorFlow outside
    XLA: all N segments at once, every contraction one batched matrix product
    of TensorFlow's (oneDNN's), U~ kept for the backward pass (at AVE size
    335 MB in float32; the reference keeps its (N S, q p) product, 160 MB).
    The products over the q factors (U~, dF_aV) and the segments (dU) take
    the p output channels as their batch, with the transposes that this
    needs. Written with TensorFlow's matmul: its transpose flags, which
    `keras.ops` lacks, saved a third of the time against einsums."""
    import tensorflow as tf

    def by_channel(tensor):  # (N, p, ...) <-> (p, N, ...)
        return tf.transpose(tensor, (1, 0, 2))

    @tf.custom_gradient
    def pooled_bilinear(visual, audio_windows, U_rows):
        mixed = by_channel(tf.linalg.matmul(by_channel(audio_windows), U_rows))  # U~ (N, p, d_v)
        pooled = tf.linalg.matmul(visual, mixed, transpose_b=True)

        def grad(upstream):
            d_mixed = by_channel(tf.linalg.matmul(upstream, visual, transpose_a=True))  # (p, N, d_v)
            d_visual = tf.linalg.matmul(upstream, mixed)
            d_audio = by_channel(tf.linalg.matmul(d_mixed, U_rows, transpose_b=True))
            d_U = tf.linalg.matmul(tf.transpose(audio_windows, (1, 2, 0)), d_mixed)
            return d_visual, d_audio, d_U

        return pooled, grad

    return pooled_bilinear


def _tiled_pooled_bilinear(tile_size):
    """z~ (N, S, p) of eq. 3 from visual (N, S, d_v), F_a V as (N, p, q) windows
    and U as (p, q, d_v), tile by tile, with a gradient that recomputes U~.

    U~ is kept as (n, p, d_v), d_v innermost: forming it is q multiply-adds
    over contiguous d_v, z~ = F_v U~^T is one batched product per tile, and
    the backward pass contracts dU~ over d_v (for F_a V) and over the tile's
    segments (for U) along that same contiguous axis. With the (n, d_v, p)
    layout of the kernel's first version, forward + backward at AVE size took
    1.7x (JAX) and 2.1x (TensorFlow, XLA) as long (side by side in one
    process each, shared 2-core CPU at load 8-10)."""

    def mixed_matrix(audio_tile, U_rows):
        # U~ (n, p, d_v) as q broadcast multiply-adds over contiguous d_v,
        # which XLA fuses into one vectorised loop.
        return sum(
            ops.expand_dims(audio_tile[:, :, k], -1) * ops.expand_dims(U_rows[:, k, :], 0)
            for k in range(U_rows.shape[1])
        )

    @ops.custom_gradient
    def pooled_bilinear(visual, audio_windows, U_rows):
        def forward_tile(tile):
            visual_tile, audio_tile = tile
            return ops.einsum("nsd,njd->nsj", visual_tile, mixed_matrix(audio_tile, U_rows))

        count = ops.shape(visual)[0]
        tiles = _tile((visual, audio_windows), tile_size)
        pooled = _untile(ops.map(forward_tile, tiles), count)

        def grad(upstream):
            visual_tiles, audio_tiles, upstream_tiles = _tile(
                (visual, audio_windows, upstream), tile_size
            )

            def backward_tile(index, gradients):
                d_visual, d_audio, d_U = gradients
                visual_tile = visual_tiles[index]
                audio_tile = audio_tiles[index]
                upstream_tile = upstream_tiles[index]
                mixed = mixed_matrix(audio_tile, U_rows)
                d_mixed = ops.einsum("nsj,nsd->njd", upstream_tile, visual_tile)
                d_visual = ops.slice_update(
                    d_visual,
                    (index, 0, 0, 0),
                    ops.expand_dims(ops.matmul(upstream_tile, mixed), 0),
                )
                d_audio = ops.slice_update(
                    d_audio,
                    (index, 0, 0, 0),
                    ops.expand_dims(ops.einsum("njd,jkd->njk", d_mixed, U_rows), 0),
                )
                # Accumulated in the loop: no per-tile partials are kept.
                d_U = d_U + ops.einsum("njk,njd->jkd", audio_tile, d_mixed)
                return d_visual, d_audio, d_U

            d_visual, d_audio, d_U = ops.fori_loop(
                0,
                ops.shape(visual_tiles)[0],
                backward_tile,
                (ops.zeros_like(visual_tiles), ops.zeros_like(audio_tiles), ops.zeros_like(U_rows)),
            )
            return _untile(d_visual, count), _untile(d_audio, count), d_U

        return pooled, grad

    return pooled_bilinear


def _tile(tensors, tile_size):
    """Splits the leading N into the fewest tiles of at most `tile_size`
    segments, equal in size, zero-padding the last one; zero segments give
    zero z~ and add nothing to the gradients. N may be dynamic (a TensorFlow
    trace), XLA still sees it as a compile-time constant."""
    count = ops.shape(tensors[0])[0]
    tiles = (count + tile_size - 1) // tile_size
    size = (count + tiles - 1) // tiles
    padding = tiles * size - count
    tiled = []
    for tensor in tensors:
        tail = tuple(tensor.shape[1:])
        pad = ops.zeros((padding,) + tail, dtype=tensor.dtype)
        tiled.append(ops.reshape(ops.concatenate([tensor, pad], 0), (tiles, size) + tail))
    return tuple(tiled)


def _untile(tiled, count):
    return ops.reshape(tiled, (-1,) + tuple(tiled.shape[2:]))[:count]
