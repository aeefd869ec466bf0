"""Text for simulated posts: offline template generation from topic packs."""

from .offline import OfflineGenerator, builtin_packs, load_pack

__all__ = ["OfflineGenerator", "builtin_packs", "load_pack"]
