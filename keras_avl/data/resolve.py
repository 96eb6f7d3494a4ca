"""`resolve_data`: the dataset a command works on, from what its user gave."""

from pathlib import Path

from keras_avl.data.ave_dataset import AVEData, load_ave
from keras_avl.data.embedded import embedded_default


def resolve_data(data=None, embedded_size="small"):
    """`(AVEData, folder)`: loads `data` (a folder or an `AVEData`); None means
    the embedded default of size `embedded_size`.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> data, folder = resolve_data(None, "tiny")
    >>> folder.name, data.num_classes
    ('embedded-tiny-seed0-v2', 5)
    """
    if isinstance(data, AVEData):
        return data, data.root
    folder = Path(data) if data is not None else embedded_default(embedded_size)
    return load_ave(folder), folder
