"""Losses of the paper: AVTGML (eqs. 13-16) and the weak regime's MIL loss (§3.6),
and the released A+V-att's MultiLabelSoftMarginLoss."""

from keras_avl.losses.gram_triplet_loss import (
    GramTripletLoss,
    gram_triplet_loss,
    normalized_gram,
)
from keras_avl.losses.mil_cross_entropy import mil_cross_entropy
from keras_avl.losses.multilabel_soft_margin import multilabel_soft_margin_loss

__all__ = [
    "GramTripletLoss",
    "gram_triplet_loss",
    "mil_cross_entropy",
    "multilabel_soft_margin_loss",
    "normalized_gram",
]
