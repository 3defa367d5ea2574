"""Post-processing of predictions: connected components, brain-mask restriction, ensemble uncertainty."""
