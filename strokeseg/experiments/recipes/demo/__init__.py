"""The built-in demo recipe (``strokeseg demo``): Noh et al.'s DWI study in miniature on a phantom registry.

``recipe`` builds its jobs and runs them with the experiments' executor, ``profiles`` sizes the study,
``layout`` names its folders and models, ``cohort`` generates and converts the phantom registry, ``findings``
checks the study's findings, ``summary`` writes ``SUMMARY.md``; ``cli`` is the command. See ``docs/demo.md``.
"""
