"""Where the time of a method's train step goes at AVE size (d_v = 512, batch
64, float32 or `--mixed` bfloat16, TensorFlow without XLA: keras-avl's default
on a CPU), by timing the step's parts in one process, alternating round by
round:

- the whole compiled train step (`model.fit`, steady state, as
  `bench_train.py` times it);
- each top-level layer's forward + backward alone (`tf.GradientTape` inside
  a `tf.function`, on the inputs that layer receives in the model, computed
  once; the gradient of the sum of its outputs with respect to its weights
  and to those of its inputs that do not come straight from the model's
  inputs, as in a train step);
- inside the fusion layer (`avfb`), its MFB pooling alone (`MFBPooling`, on
  the inputs the layer hands it, caught on one call);
- the optimizer's update alone (`Adam.apply_gradients` of all weights).

The parts overlap nothing but do not add up exactly to the step: the rest
(the loss, metrics, Keras' step bookkeeping, the gradients' reduction into
the variables' layout) is reported as "rest of the step". The FLOPs of each
part are not counted here (see `bench_train.py`).

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/profile_step.py --method paper \\
        --out benchmarks/results/profile_paper_cpu_tensorflow.json
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def layer_inputs(model, layer, x):
    """(args, kwargs) of `layer`'s call in `model`, as concrete tensors for
    the model inputs `x`."""
    import keras

    node = layer._inbound_nodes[0]
    args, kwargs = node.arguments.args, node.arguments.kwargs
    symbolic = keras.tree.flatten((args, kwargs))
    keras_tensors = [t for t in symbolic if isinstance(t, keras.KerasTensor)]
    values = keras.Model(model.inputs, keras_tensors)(x, training=False) if keras_tensors else []
    if len(keras_tensors) == 1 and not isinstance(values, (list, tuple)):
        values = [values]
    lookup = {id(t): v for t, v in zip(keras_tensors, values)}
    concrete = [lookup.get(id(t), t) for t in symbolic]
    # The model's own inputs need no gradient in a train step: the others do.
    model_inputs = {id(t) for t in model.inputs}
    needs_gradient = [lookup[id(t)] for t in keras_tensors if id(t) not in model_inputs]
    return keras.tree.pack_sequence_as((args, kwargs), concrete), needs_gradient


def fwd_bwd(layer, args, kwargs, float_inputs):
    """A compiled forward + backward of `layer` on (args, kwargs): the
    gradient of the sum of its outputs with respect to its weights and to
    `float_inputs` (those of its inputs that a train step differentiates)."""
    import tensorflow as tf

    float_inputs = [t for t in float_inputs if t.dtype.is_floating]

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            tape.watch(float_inputs)
            extra = {"training": True} if _takes_training(layer) else {}
            outputs = layer(*args, **{**kwargs, **extra})
            total = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float32)) for o in tf.nest.flatten(outputs)])
        return tape.gradient(total, [w.value for w in layer.trainable_weights] + float_inputs)

    return run


def _takes_training(layer):
    import inspect

    return "training" in inspect.signature(layer.call).parameters


def timed(function, repeats):
    import keras

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.tree.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, function())
        times.append(time.perf_counter() - start)
    return times


def main(argv=None):
    import keras
    import tensorflow as tf

    from bench_mfb import environment, finish_and_write
    from bench_train import add_method_arguments, method_from_arguments, random_batches, timed_steps
    from keras_avl.layers import MFBPooling

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    add_method_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="timed calls of each part per round")
    parser.add_argument("--steps", type=int, default=3, help="train steps per timed fit call")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    report = environment()
    model, options, config, dataset = method_from_arguments(args, args.smoke)
    x, _ = random_batches(config, args.batch, 1)
    x = {k: tf.constant(v) for k, v in x.items()}
    # every segment real (the optional mask input the model declares)
    x.update({name: tf.ones((args.batch, config.segments)) for name in model.input_names if name not in x}
             if hasattr(model, "input_names") else {})
    x.update({t.name: tf.ones((args.batch, config.segments)) for t in model.inputs if t.name not in x})
    parts = {"train step (fit)": lambda: timed_steps(model, dataset, args.steps)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or not layer.trainable_weights:
            continue
        (call_args, call_kwargs), needs_gradient = layer_inputs(model, layer, x)
        run = fwd_bwd(layer, call_args, call_kwargs, needs_gradient)
        parts[f"{layer.name} ({type(layer).__name__}) fwd+bwd"] = lambda run=run: timed(run, args.repeats)
        mfbs = [sub for sub in vars(layer).values() if isinstance(sub, MFBPooling)]
        for mfb in mfbs:
            caught = {}
            original = mfb.call

            def catch(*a, **k):
                caught.setdefault("args", (a, k))
                return original(*a, **k)

            mfb.call = catch
            layer(*call_args, **call_kwargs)
            mfb.call = original
            mfb_args, mfb_kwargs = caught["args"]
            # the visual features come straight from the model's input: only
            # the other inputs (the audio embedding) are differentiated
            mfb_inputs = [t for t in tf.nest.flatten((mfb_args, mfb_kwargs)) if tf.is_tensor(t)]
            visual = max(mfb_inputs, key=lambda t: t.shape.num_elements())
            mfb_run = fwd_bwd(mfb, list(mfb_args), dict(mfb_kwargs), [t for t in mfb_inputs if t is not visual])
            parts[f"{layer.name}.{mfb.name} (MFBPooling) fwd+bwd"] = (
                lambda mfb_run=mfb_run: timed(mfb_run, args.repeats))
    weights = model.trainable_variables
    gradients = [tf.random.normal(w.shape, stddev=1e-3, dtype=w.dtype) for w in weights]
    optimizer = model.optimizer

    @tf.function
    def update():
        optimizer.apply_gradients(zip(gradients, weights))
        return tf.constant(0.0)

    parts["optimizer update (Adam, all weights)"] = lambda: timed(update, args.repeats)
    for name, part in parts.items():
        part()  # compiles
    loads, records = [], {name: [] for name in parts}
    for _ in range(args.rounds):
        loads.append(list(os.getloadavg()))
        for name, part in parts.items():
            records[name] += part()
    medians = {name: statistics.median(times) for name, times in records.items()}
    step = medians["train step (fit)"]
    layers_total = sum(v for k, v in medians.items()
                       if k != "train step (fit)" and "(MFBPooling)" not in k)
    results = [dict(part=name, seconds=times, median_seconds=medians[name],
                    share_of_step=medians[name] / step) for name, times in records.items()]
    results.append(dict(part="rest of the step (step - layers - optimizer)",
                        median_seconds=step - layers_total, share_of_step=(step - layers_total) / step))
    ranked = sorted((r for r in results if r["part"] != "train step (fit)" and "(MFBPooling)" not in r["part"]),
                    key=lambda r: -r["median_seconds"])
    for r in [results[0]] + ranked + [r for r in results if "(MFBPooling)" in r["part"]]:
        print(f"{r['part']:52s} {1000 * r['median_seconds']:9.1f} ms  {100 * r['share_of_step']:5.1f} %",
              flush=True)
    report.update(benchmark=f"{args.method}'s train step by parts, AVE size", method=args.method,
                  options=options, batch=args.batch,
                  visual_dim=args.visual_dim, rounds=args.rounds, repeats=args.repeats,
                  steps_per_fit=args.steps, smoke=args.smoke, load_average_per_round=loads,
                  largest_costs=[r["part"] for r in ranked[:3]], results=results)
    finish_and_write(report, args.out)


if __name__ == "__main__":
    main()
