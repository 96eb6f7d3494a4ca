"""Tiny configs of the presets for tests: one dict of sizes for every method,
each preset taking the fields its config class has."""

import dataclasses

from keras_avl.models import get

# The methods' tiny sizes (a new method adds its line here); dropouts at zero
# where a test compares with a NumPy reference (`NO_DROPOUT`).
METHOD_SIZES = {
    "avsdn": dict(hidden=4),
    "psp": dict(projection_dim=8, hidden=4, attention_dim=8, psp_dim=8, classifier_hidden=4),
    "cmbs": dict(visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                 interaction_heads=2, feedforward_dim=8),
    "cace": dict(visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                 interaction_heads=2, feedforward_dim=8, encoder_feedforward_dim=8),
}
NO_DROPOUT = dict(psp_dropout=0.0, attention_dropout=0.0, visual_dropout=0.0,
                  guidance_dropout=0.0)


def preset_config(name, fields, regime="supervised"):
    """The config of preset `name` in `regime` with those of `fields` its
    method's config class has (e.g. A+V-att has no `swab_units`)."""
    preset = get(name)
    known = {field.name for field in dataclasses.fields(preset.config_class)}
    return preset.config(regime, **{key: value for key, value in fields.items() if key in known})
