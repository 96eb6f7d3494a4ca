"""Tiny configs of the presets for tests: one dict of sizes for every method,
each preset taking the fields its config class has."""

import dataclasses

from keras_avl.models import get


def preset_config(name, fields, regime="supervised"):
    """The config of preset `name` in `regime` with those of `fields` its
    method's config class has (e.g. A+V-att has no `swab_units`)."""
    preset = get(name)
    known = {field.name for field in dataclasses.fields(preset.config_class)}
    return preset.config(regime, **{key: value for key, value in fields.items() if key in known})
