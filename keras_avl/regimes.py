"""The paper's three training regimes (§3.6, §3.7), named in one place that
the data pipelines, the model builders and the run folders all read, so that
`keras_avl.data` needs no model code."""

REGIMES = ("supervised", "weak", "unsupervised")
# Where the unsupervised regime's negative audio comes from (`make_dataset`,
# `PaperConfig.negative_sampling`): any other video (the paper's reading) or a
# video of another class.
NEGATIVE_SAMPLINGS = ("any-video", "other-class")
