import subprocess
import sys

import pytest

import keras_avl
from keras_avl.cli.backend import check_backend_installed
from keras_avl.cli.main import build_parser, main


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-avl {keras_avl.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: keras-avl" in capsys.readouterr().out


def test_every_registered_command_has_help():
    parser = build_parser()
    # argparse (not TensorFlow/Keras) has no public list of a parser's
    # subcommands: its private action group is the only way to them.
    commands = parser._subparsers._group_actions[0].choices if parser._subparsers else {}
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0


def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from keras_avl.cli.main import build_parser; build_parser(); "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["train", "evaluate", "extract", "tune"])
def test_a_backend_not_installed_is_reported_for_every_command(monkeypatch, capsys, command):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    argv = {"train": ["train", "--regime", "supervised"], "evaluate": ["evaluate", "RUN"],
            "extract": ["extract", "x.mp4", "--out", "o", "--vggish-weights", "random"], "tune": ["tune", "--regime", "weak"]}
    assert main(argv[command]) == 2
    assert "pip install 'keras-avl[torch]'" in capsys.readouterr().err


def test_missing_backend_says_what_to_install():
    missing = next(
        (name for name in ("torch", "jax", "tensorflow") if not _installed(name)), None
    )
    if missing is None:
        pytest.skip("every Keras backend is installed here")
    with pytest.raises(ValueError, match="is not installed: run `pip install"):
        check_backend_installed({"KERAS_BACKEND": missing})
    with pytest.raises(ValueError, match="KERAS_BACKEND must be one of"):
        check_backend_installed({"KERAS_BACKEND": "theano"})


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
