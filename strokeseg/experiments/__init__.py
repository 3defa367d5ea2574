"""Experiment recipes: learning curve, domain adaptation, vendor transfer, zoom ablation, deep ensembles."""
