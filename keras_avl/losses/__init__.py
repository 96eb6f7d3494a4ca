"""Losses of the paper: AVTGML (eqs. 13-16) and the weak regime's MIL loss (§3.6);
the released A+V-att's MultiLabelSoftMarginLoss; InfoNCE for the contrastive
baseline; those of the other methods: PSP's AVPS loss, CMBS's foreground and
event-class losses; CACE-Net's segment contrastive loss."""

from keras_avl.losses.avps_loss import AVPSLoss
from keras_avl.losses.event_class_loss import EventClassLoss
from keras_avl.losses.foreground_loss import ForegroundLoss
from keras_avl.losses.gram_triplet_loss import (
    GramTripletLoss,
    gram_triplet_loss,
    normalized_gram,
    segment_triplet_loss,
)
from keras_avl.losses.info_nce_loss import InfoNCELoss, info_nce_loss
from keras_avl.losses.label_free_loss import LabelFreeLoss
from keras_avl.losses.mil_cross_entropy import mil_cross_entropy
from keras_avl.losses.multilabel_soft_margin import multilabel_soft_margin_loss
from keras_avl.losses.probability_binary_crossentropy import probability_binary_crossentropy
from keras_avl.losses.segment_contrastive_loss import SegmentContrastiveLoss

__all__ = [
    "AVPSLoss",
    "EventClassLoss",
    "ForegroundLoss",
    "GramTripletLoss",
    "InfoNCELoss",
    "LabelFreeLoss",
    "SegmentContrastiveLoss",
    "gram_triplet_loss",
    "info_nce_loss",
    "mil_cross_entropy",
    "multilabel_soft_margin_loss",
    "normalized_gram",
    "probability_binary_crossentropy",
    "segment_triplet_loss",
]
