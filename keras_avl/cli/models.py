"""`keras-avl models`: every model name `--model` accepts (the presets of
`keras_avl.models.presets()`), with its method, regimes, config changes and
description.

A thin shell over `keras_avl.models.presets`.
"""

import json

from keras_avl.cli.errors import reports_errors


def format_presets(presets):
    """One line a preset: name, method, regimes, changes, description (and
    its default recipe)."""
    rows = [("NAME", "METHOD", "REGIMES", "CHANGES", "DESCRIPTION")]
    for preset in presets.values():
        changes = ", ".join(f"{key}={json.dumps(value)}" for key, value in preset.changes.items())
        recipe = f" [recipe: {preset.recipe}]" if preset.recipe else ""
        rows.append((preset.name, preset.method, ",".join(preset.regimes), changes or "-",
                     preset.description + recipe))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
        for row in rows
    )


@reports_errors
def run(args):
    from keras_avl.models import presets

    print(format_presets(presets()))
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "models", help="list the models --model accepts (presets of the methods)",
        description="List every preset: its name (--model NAME), method, regimes, "
        "config changes and description.")
    parser.set_defaults(func=run)
