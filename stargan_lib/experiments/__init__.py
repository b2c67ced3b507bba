"""Experiments the notebooks and the ablation run: train one configuration, then measure it.

Each module here composes the layers below it (data, models, losses, train, metrics) into the small
public functions that notebooks 02-05 and `stargan_lib.ablation` import, so that a notebook teaches
and does not re-implement.
"""
