"""nnU-Net trainers (``nnUNetv2_train ID CONF FOLD -tr <name>``).

Every class in ``__all__`` is exported to nnU-Net by ``strokeseg nnunet install``; names start with
``nnUNetTrainer_strokeseg_`` so they never collide with nnU-Net's own trainers.
"""

from __future__ import annotations

from strokeseg.trainers.tiny import nnUNetTrainer_strokeseg_Tiny

__all__ = ["nnUNetTrainer_strokeseg_Tiny"]
