"""Losses of the paper: AVTGML (eqs. 13-16)."""

from keras_avl.losses.gram_triplet_loss import (
    GramTripletLoss,
    gram_triplet_loss,
    normalized_gram,
)

__all__ = ["GramTripletLoss", "gram_triplet_loss", "normalized_gram"]
