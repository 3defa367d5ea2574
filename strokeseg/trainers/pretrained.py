"""Loading pretrained weights for fine-tuning, with a compatibility check that says how to fix a mismatch.

nnU-Net's ``load_pretrained_weights`` (run by ``nnUNetv2_train -pretrained_weights``) transfers every tensor
except the segmentation heads and stops at the first mismatching key with an assertion. strokeseg's fine-tuning
trainers run ``transfer_pretrained_weights`` first: it checks the whole network, and on a mismatch raises a
``ConfigurationError`` that names the checkpoint's dataset, plans, configuration and trainer and spells out the
``nnUNetv2_move_plans_between_datasets`` / ``nnUNetv2_preprocess`` commands that make the target use the source's
plans; it returns which layers were loaded so that the trainer can log them.

Segmentation heads: nnU-Net never transfers them, since a pre-training dataset usually has other labels. When the
target dataset defines exactly the source's labels (domain adaptation, vendor transfer: lesion vs background on
both sides) and the head shapes agree, strokeseg transfers them too, so fine-tuning starts from the source model's
predictions instead of a random output layer (nnU-Net's own loader, which runs afterwards, leaves heads alone).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from strokeseg.errors import ConfigurationError, InputDataError

#: Keys containing one of these are segmentation heads (transferred only between datasets with the same labels).
HEAD_KEY_MARKERS: tuple[str, ...] = (".seg_layers.",)
#: Prefixes DDP and torch.compile add to state-dict keys.
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")
#: Examples shown per kind of mismatch.
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class ModelDescription:
    """Where a network comes from: dataset, plans, configuration, trainer and its network family."""

    dataset: str | None
    plans: str | None
    configuration: str | None
    trainer: str | None
    network_family: str | None

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> ModelDescription:
        """Read from an nnU-Net checkpoint (its ``init_args`` and ``trainer_name``); the network family is not
        stored there (None)."""
        init_args = checkpoint.get("init_args") or {}
        plans = init_args.get("plans") or {}
        return cls(plans.get("dataset_name"), plans.get("plans_name"), init_args.get("configuration"),
                   checkpoint.get("trainer_name"), None)


@dataclass
class TransferReport:
    """Tensors copied from the checkpoint (heads among them when the labels agree), and heads left at their
    initialization."""

    source: ModelDescription
    path: str
    loaded: list[str] = field(default_factory=list)
    skipped_heads: list[str] = field(default_factory=list)
    loaded_heads: list[str] = field(default_factory=list)

    def loaded_layers(self) -> list[str]:
        """One line per loaded module: ``module.path [tensor names]``."""
        by_module: dict[str, list[str]] = defaultdict(list)
        for key in self.loaded:
            module, _, tensor = key.rpartition(".")
            by_module[module].append(tensor)
        return [f"{module} [{', '.join(tensors)}]" for module, tensors in by_module.items()]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (stored in the fine-tuned checkpoint)."""
        return {"path": self.path, "source_dataset": self.source.dataset, "source_plans": self.source.plans,
                "source_configuration": self.source.configuration, "source_trainer": self.source.trainer,
                "loaded_tensors": len(self.loaded), "skipped_heads": len(self.skipped_heads),
                "loaded_heads": len(self.loaded_heads)}


def _strip_wrappers(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def _is_head(key: str) -> bool:
    return any(marker in f".{key}" for marker in HEAD_KEY_MARKERS)


def fine_tuning_commands(source: ModelDescription, target: ModelDescription, weights: str) -> str:
    """The nnU-Net commands that give the target dataset the source's plans and fine-tune on them."""
    source_dataset = source.dataset or "<source dataset>"
    source_plans = source.plans or "<source plans>"
    configuration = source.configuration or target.configuration or "<configuration>"
    moved_plans = f"{source_plans}_from_{source_dataset}" if source.dataset and source.plans else "<new plans name>"
    target_dataset = target.dataset or "<target dataset>"
    trainer = target.trainer or "<fine-tuning trainer>"
    return (f"  nnUNetv2_move_plans_between_datasets -s {source_dataset} -t {target_dataset} -sp {source_plans} "
            f"-tp {moved_plans}\n"
            f"  nnUNetv2_preprocess -d {target_dataset} -plans_name {moved_plans} -c {configuration}\n"
            f"  nnUNetv2_train {target_dataset} {configuration} FOLD -tr {trainer} -p {moved_plans} "
            f"-pretrained_weights {weights}")


def mismatch_message(path: str, source: ModelDescription, target: ModelDescription,
                     shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]], missing: list[str],
                     candidates: Sequence[str] = ()) -> str:
    """Explain why the checkpoint does not fit and how to make it fit.

    ``candidates`` are fine-tuning trainers of the source's network family, suggested when the families differ.
    """
    lines = [f"pretrained weights {path} do not fit the network that {target.trainer} builds for dataset "
             f"{target.dataset} (plans {target.plans}, configuration {target.configuration}):"]
    if shape_mismatches:
        examples = "; ".join(f"{k}: checkpoint {list(a)} vs network {list(b)}"
                             for k, a, b in shape_mismatches[:MAX_EXAMPLES])
        lines.append(f"  {len(shape_mismatches)} tensors differ in shape, e.g. {examples}")
    if missing:
        lines.append(f"  {len(missing)} tensors of the network are missing from the checkpoint, e.g. "
                     f"{', '.join(missing[:MAX_EXAMPLES])}")
    lines.append(f"The checkpoint was trained with {source.trainer} ({source.network_family}) on dataset "
                 f"{source.dataset}, plans {source.plans}, configuration {source.configuration}.")
    if source.network_family and target.network_family and source.network_family != target.network_family:
        suggestion = f" such as {', '.join(candidates)}" if candidates else ""
        lines.append(f"Its network family differs from this trainer's ({target.network_family}); fine-tune with a "
                     f"trainer of the source's family{suggestion}.")
    lines.append("Fine-tuning needs the source's plans (same patch, spacing, network) and the same input channels "
                 "on the target dataset; move them and preprocess the target with them:")
    lines.append(fine_tuning_commands(source, target, path))
    return "\n".join(lines)


def source_labels(checkpoint: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``labels`` of the dataset a checkpoint was trained on (its stored dataset.json), or None."""
    dataset_json = (checkpoint.get("init_args") or {}).get("dataset_json") or {}
    labels = dataset_json.get("labels")
    return labels if isinstance(labels, Mapping) else None


def transfer_pretrained_weights(network: nn.Module, path: str | Path, target: ModelDescription,
                                target_labels: Mapping[str, Any] | None = None,
                                family_of: Callable[[str], str | None] | None = None,
                                fine_tuners_of: Callable[[str], Sequence[str]] | None = None) -> TransferReport:
    """Check that the checkpoint at ``path`` fits ``network`` and copy its weights.

    Segmentation heads are copied only when ``target_labels`` (the target dataset.json's ``labels``) equal the
    source's and every head tensor has the same shape; otherwise they keep their initialization (nnU-Net's rule).
    On a mismatch, ``family_of`` (trainer name -> network family) and ``fine_tuners_of`` (network family ->
    fine-tuning trainer names) make the message say whether the network families differ and which trainers fit.

    Raises:
        InputDataError: the file is missing or is not an nnU-Net checkpoint.
        ConfigurationError: the architectures differ; the message says which plans to move and how.
    """
    path = str(path)
    if not Path(path).is_file():
        raise InputDataError(f"pretrained weights {path} do not exist; pass the checkpoint_final.pth of the source "
                             "model to -pretrained_weights")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, Mapping) or "network_weights" not in checkpoint:
        raise InputDataError(f"{path} is not an nnU-Net checkpoint (no 'network_weights'); pass a checkpoint_*.pth "
                             "written by nnUNetv2_train")
    source = ModelDescription.from_checkpoint(checkpoint)
    weights = {_strip_wrappers(k): v for k, v in checkpoint["network_weights"].items()}
    own = network.state_dict()
    shape_mismatches = [(k, tuple(weights[k].shape), tuple(v.shape)) for k, v in own.items()
                        if not _is_head(k) and k in weights and weights[k].shape != v.shape]
    missing = [k for k in own if not _is_head(k) and k not in weights]
    if shape_mismatches or missing:
        if family_of is not None and source.trainer:
            source = replace(source, network_family=family_of(source.trainer))
        candidates = fine_tuners_of(source.network_family) if fine_tuners_of and source.network_family else ()
        raise ConfigurationError(mismatch_message(path, source, target, shape_mismatches, missing, candidates))
    report = TransferReport(source, path)
    heads = [key for key in own if _is_head(key)]
    same_labels = target_labels is not None and dict(target_labels) == dict(source_labels(checkpoint) or {})
    transfer_heads = same_labels and all(key in weights and weights[key].shape == own[key].shape for key in heads)
    for key in own:
        if _is_head(key) and not transfer_heads:
            report.skipped_heads.append(key)
        else:
            own[key] = weights[key]
            report.loaded.append(key)
            if _is_head(key):
                report.loaded_heads.append(key)
    network.load_state_dict(own)
    return report
