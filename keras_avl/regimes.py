"""The paper's three training regimes (§3.6, §3.7), named in one place that
the data pipelines, the model builders and the run folders all read, so that
`keras_avl.data` needs no model code."""

REGIMES = ("supervised", "weak", "unsupervised")
