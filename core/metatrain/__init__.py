"""Meta-training: episodic training of the embedding on a hospital's common classes (see trainer.py)."""

from core.metatrain.backbone_file import SUFFIX, MetaTrainedLite0, read_backbone_file, write_backbone_file
from core.metatrain.data import MetaData, MetaTrainError, load_meta_data
from core.metatrain.trainer import MetaTrainConfig, MetaTrainResult, meta_train

__all__ = [
    "SUFFIX",
    "MetaData",
    "MetaTrainConfig",
    "MetaTrainError",
    "MetaTrainResult",
    "MetaTrainedLite0",
    "load_meta_data",
    "meta_train",
    "read_backbone_file",
    "write_backbone_file",
]
