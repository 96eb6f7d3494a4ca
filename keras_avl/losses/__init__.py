"""Losses of the paper: AVTGML (eqs. 13-16) and the weak regime's MIL loss (§3.6);
those of the other methods: PSP's AVPS loss, CMBS's foreground and event-class
losses."""

from keras_avl.losses.avps_loss import AVPSLoss
from keras_avl.losses.event_class_loss import EventClassLoss
from keras_avl.losses.foreground_loss import ForegroundLoss
from keras_avl.losses.gram_triplet_loss import (
    GramTripletLoss,
    gram_triplet_loss,
    normalized_gram,
)
from keras_avl.losses.mil_cross_entropy import mil_cross_entropy

__all__ = ["AVPSLoss", "EventClassLoss", "ForegroundLoss", "GramTripletLoss", "gram_triplet_loss", "mil_cross_entropy", "normalized_gram"]
