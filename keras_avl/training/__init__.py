"""Training, evaluation and comparison of the paper's models on AVE-layout data."""

from keras_avl.training.compare import compare, markdown_table
from keras_avl.training.evaluate import evaluate
from keras_avl.training.train import DEFAULT_EPOCHS, train
from keras_avl.training_config import TrainingConfig

__all__ = ["DEFAULT_EPOCHS", "TrainingConfig", "compare", "evaluate", "markdown_table", "train"]
