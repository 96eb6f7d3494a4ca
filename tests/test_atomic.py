import os

import pytest

from keras_avl.atomic import atomic_path, atomic_write_text


def test_complete_file_appears_with_the_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failure_leaves_neither_target_nor_temporary_file(tmp_path):
    target = tmp_path / "result.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.h5"]
