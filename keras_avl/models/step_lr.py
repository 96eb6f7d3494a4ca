"""`StepLR`: PyTorch's `torch.optim.lr_scheduler.StepLR` as a Keras learning-rate
schedule, stepped once per batch as AVE-ECCV18's `supervised_main.py` and
`weak_supervised_main.py` step it (`scheduler.step()` before `optimizer.step()`
in every iteration).

PyTorch's constructor already takes one step (`last_epoch = 0`) and the loop
steps again before each update, so update i (0-based) uses
lr_0 * gamma ** ((i + 1) // step_size); Keras calls the schedule with the
number of updates done so far, i.
"""

import keras
from keras import ops

from keras_avl.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_avl")
class StepLR(keras.optimizers.schedules.LearningRateSchedule):
    """lr(i) = initial_learning_rate * gamma ** floor((i + 1) / step_size).

    Args:
        initial_learning_rate: the learning rate of the first updates.
        step_size: updates (batches) between two decays (AVE-ECCV18: 15000).
        gamma: the decay factor (AVE-ECCV18: 0.1).

    Example:

    >>> schedule = StepLR(1e-3, step_size=3, gamma=0.1)
    >>> [round(float(schedule(i)), 6) for i in range(6)]
    [0.001, 0.001, 0.0001, 0.0001, 0.0001, 1e-05]
    """

    def __init__(self, initial_learning_rate, step_size, gamma):
        self.initial_learning_rate = float(initial_learning_rate)
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = float(gamma)

    def __call__(self, step):
        decays = ops.floor((ops.cast(step, "float32") + 1.0) / self.step_size)
        return self.initial_learning_rate * ops.power(self.gamma, decays)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }
