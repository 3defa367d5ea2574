"""Everything strokeseg knows about nnU-Net v2, in one place.

- ``folders``: the ``nnUNet_raw`` / ``nnUNet_preprocessed`` / ``nnUNet_results`` folders;
- ``raw``: the raw-dataset layout (``DatasetXXX_Name``, ``imagesTr``, ``dataset.json``) and dataset lookup;
- ``plans``: plans identifiers and the planning arguments that change them;
- ``runner``: running the stock ``nnUNetv2_*`` command-line tools;
- ``plugins`` and ``cli``: making strokeseg's classes findable by those tools (``strokeseg nnunet``).

Every pipeline stage imports nnU-Net vocabulary from here, never from another stage.
"""
