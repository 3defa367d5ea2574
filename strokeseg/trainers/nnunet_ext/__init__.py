"""The folder strokeseg adds to nnU-Net's ``nnUNet_extTrainer`` variable.

nnU-Net imports every module in this folder by its bare name when it looks a trainer up by name and cannot find
it inside its own package; ``strokeseg_trainers`` re-exports strokeseg's trainers. See
``strokeseg.nnunet.plugins``.
"""
