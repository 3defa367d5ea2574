"""strokeseg's trainers for nnU-Net's trainer lookup through ``nnUNet_extTrainer``.

nnU-Net imports this module as ``strokeseg_trainers`` (its folder temporarily on ``sys.path``) and takes the class
it looks for from here; the classes themselves live in ``strokeseg.trainers``, which is where pickling and worker
processes find them.
"""

from strokeseg.trainers import *  # noqa: F403
from strokeseg.trainers import __all__ as __all__
