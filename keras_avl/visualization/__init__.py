"""Where the sound comes from: lambda heatmaps over frames (the paper's
Figs. 6-8), as a PNG strip and an MP4 with the audio, and `localize_video`,
which runs a trained model on a raw video and writes them; `save_attention_figure`
draws several runs' lambda on videos with ground-truth regions."""

from keras_avl.visualization.attention_figure import save_attention_figure
from keras_avl.visualization.heatmap import overlay_heatmap, upsample_attention
from keras_avl.visualization.heatmap_strip import save_heatmap_strip
from keras_avl.visualization.localization import Localization, localize_video, run_class_names
from keras_avl.visualization.overlay_video import write_overlay_video

__all__ = [
    "Localization",
    "localize_video",
    "overlay_heatmap",
    "run_class_names",
    "save_attention_figure",
    "save_heatmap_strip",
    "upsample_attention",
    "write_overlay_video",
]
