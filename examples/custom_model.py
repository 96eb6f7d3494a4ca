"""Compose the library's layers into a model of your own.

Here: an audio-visual *event detector* that says, per one-second segment,
whether an audio-visual event is happening (event vs. background), built from
`AVFBLayer` (audio-guided visual fusion, eqs. 1-7), a bidirectional LSTM and
`SWABLayer` (segment-wise attention, eqs. 9-11), with a sigmoid head. It trains
with plain `model.fit`, saves to `.keras` and loads back with the same outputs.

    python examples/custom_model.py --tiny --out detector/
"""

from pathlib import Path

import keras
import numpy as np
from example_setup import example_arguments, fit_settings, load_example_data

from keras_avl.data import make_dataset
from keras_avl.layers import AVFBLayer, SegmentMask, SWABLayer


def event_detector(segments, grid, visual_dim, audio_dim, width=64):
    """visual (B,T,H,W,d_v), audio (B,T,d_a), segment_mask (B,T) -> P(event)
    per segment (B,T,1); padded segments (mask 0) stay out of the LSTM, SWAB
    and the loss."""
    visual = keras.Input((segments, *grid, visual_dim), name="visual")
    audio = keras.Input((segments, audio_dim), name="audio")
    segment_mask = keras.Input((segments,), name="segment_mask")
    mask = SegmentMask(name="real_segments")(audio, segment_mask)
    fused, _ = AVFBLayer(embed_dim=width, mfb_factor=4, mfb_output_dim=width,
                         name="avfb")([visual, audio])
    h = keras.layers.Bidirectional(keras.layers.LSTM(width, return_sequences=True))(
        fused, mask=mask
    )
    attended, _ = SWABLayer(units=width, name="swab")(h, mask=mask)
    event = keras.layers.Dense(1, activation="sigmoid", name="event")(
        keras.layers.Concatenate()([h, attended])
    )
    model = keras.Model({"visual": visual, "audio": audio, "segment_mask": segment_mask},
                        event, name="event_detector")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["binary_accuracy"])
    return model


def event_targets(inputs, segment_labels):
    """One-hot segment labels (B,T,C) -> 1 for event segments (B,T,1)."""
    return inputs, 1.0 - segment_labels[..., -1:]  # the last class is background


def main(argv=None):
    args = example_arguments(__doc__, out="event_detector").parse_args(argv)
    data = load_example_data(args)
    model = event_detector(data.segments, data.grid, data.visual_dim, data.audio_dim,
                           width=8 if args.tiny else 64)
    batch_size, epochs = fit_settings(args)
    train = make_dataset(data, "train", "supervised", batch_size).map(event_targets)
    val = make_dataset(data, "val", "supervised", batch_size).map(event_targets)
    model.fit(train, validation_data=val, epochs=epochs, verbose=2)

    path = Path(args.out) / "event_detector.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    reloaded = keras.saving.load_model(path)  # custom layers are registered
    inputs, _ = next(iter(val))
    same = np.allclose(model.predict(inputs, verbose=0), reloaded.predict(inputs, verbose=0))
    print(f"saved {path}; reloaded model gives the same outputs: {same}")
    return same


if __name__ == "__main__":
    main()
