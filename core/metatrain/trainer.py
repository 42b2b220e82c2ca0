"""Episodic prototypical meta-training of the upper layers, with distillation toward the frozen ones.

Each step draws an N-way K-shot episode from the training classes (deterministically from the
seed and the step number, so a resumed run draws the same episodes), embeds support and queries
through the upper layers from cached activations, and minimises the prototypical cross-entropy of
the queries plus ``distill`` times the distance of the upper features to the frozen backbone's
(what keeps the features useful on modalities the training never saw). Validation episodes come
from classes the training never sees. Weights replace the pretrained ones only when they beat them
on the validation episodes beyond noise (the paired per-episode gain's 95 % interval lies above
zero): on a small or unlearnable archive a noise-level validation "gain" picked weights that lost
6 points on unseen classes, so such a run keeps the pretrained weights and says so. ``patience``
validations without a new best stop the run.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.embedding import CancelToken, ProgressFn, check_cancel, load_backbone
from core.evaluation.episodes import Episode, eligible_classes, sample_episode
from core.evaluation.metrics import mean_ci95
from core.fewshot.adaptation import torch_transform
from core.fewshot.features import FeatureConfig, l2, transform
from core.metatrain.data import MetaData, MetaTrainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetaTrainConfig:
    ways: int = 5
    # 1-shot training episodes gained more on unseen rbc classes than 5-shot ones, at 1 and at 5 shots
    # (+0.7 / +1.8 points against -0.1 / +0.7; issue 7 note), and did not lose across domains
    shots: int = 1
    queries: int = 10
    episodes: int = 3000
    val_every: int = 150
    val_episodes: int = 150
    patience: int = 4
    learning_rate: float = 1e-4
    distill: float = 1.0
    temperature: float = 0.35
    seed: int = 0
    budget_min: float | None = None
    device: str = "cpu"


@dataclass
class TrainState:
    """What a checkpoint holds; everything needed to go on exactly where the run stopped."""

    step: int = 0
    best_accuracy: float = -1.0
    best_step: int = 0
    frozen_accuracy: float = 0.0
    bad_validations: int = 0
    val_ways: int = 0
    frozen_episode_accuracy: list[float] = field(default_factory=list)
    best_gain_ci95: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def _episode_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, 11, step])


def _features(
    upper: nn.Module, data: MetaData, index: Tensor, view: Tensor, n_lower: int, layout: Any, device: str
) -> tuple[Tensor, Tensor]:
    """(embedding used by the classifier, raw upper output) for images ``index`` seen in ``view``."""
    act = torch.from_numpy(data.activations[index.numpy(), view.numpy()]).float().to(device)
    lower = torch.from_numpy(data.raw[index.numpy(), view.numpy(), :n_lower]).to(device)
    up = upper(act)
    return torch_transform(torch.cat([lower, up], dim=1), layout, FeatureConfig()), up


def episode_loss(
    upper: nn.Module, data: MetaData, episode: Episode, config: MetaTrainConfig, gen: torch.Generator, backbone: Any
) -> Tensor:
    index = torch.from_numpy(np.concatenate([episode.support, episode.query]))
    view = torch.randint(0, data.raw.shape[1], (len(index),), generator=gen)
    z, up = _features(upper, data, index, view, backbone.n_lower, backbone.layout, config.device)
    frozen = torch.from_numpy(data.raw[index.numpy(), view.numpy(), backbone.n_lower :]).to(config.device)
    distill = (((up - frozen) ** 2).sum(1) / ((frozen**2).sum(1) + 1e-6)).mean()
    n_support = len(episode.support)
    mean = z[:n_support].mean(0, keepdim=True)
    z = F.normalize(z - mean, dim=1)
    code_of = {int(c): k for k, c in enumerate(episode.classes)}
    codes = torch.tensor([code_of[int(c)] for c in episode.support_labels], device=config.device)
    protos = torch.stack([z[:n_support][codes == k].mean(0) for k in range(len(episode.classes))])
    targets = torch.tensor([code_of[int(c)] for c in episode.query_labels], device=config.device)
    logits = -((z[n_support:, None, :] - protos[None]) ** 2).sum(-1) / config.temperature
    return F.cross_entropy(logits, targets) + config.distill * distill


def validate(upper: nn.Module, data: MetaData, episodes: list[Episode], backbone: Any, device: str) -> list[float]:
    """Per-episode accuracy of nearest-prototype classification on validation episodes."""
    needed = np.unique(np.concatenate([np.concatenate([e.support, e.query]) for e in episodes]))
    raw = data.raw[needed].copy()
    with torch.inference_mode():
        for v in range(raw.shape[1]):
            act = torch.from_numpy(data.activations[needed, v]).float().to(device)
            raw[:, v, backbone.n_lower :] = torch.cat([upper(act[i : i + 256]).cpu() for i in range(0, len(act), 256)]).numpy()
    z = transform(raw, backbone.layout, FeatureConfig())
    position = {int(g): i for i, g in enumerate(needed)}
    accuracies = []
    for e in episodes:
        s, q = z[[position[int(i)] for i in e.support]], z[[position[int(i)] for i in e.query]]
        mean = s.mean(0, keepdims=True)
        s, q = l2(s - mean), l2(q - mean)
        protos = np.stack([s[e.support_labels == c].mean(0) for c in e.classes])
        predicted = e.classes[((q[:, None, :] - protos[None]) ** 2).sum(-1).argmin(1)]
        accuracies.append(float((predicted == e.query_labels).mean()))
    return accuracies


def significant_gain(accuracies: list[float], frozen: list[float]) -> tuple[float, float, bool]:
    """Paired gain over the pretrained weights on the same episodes: (gain, 95 % half-width, beyond noise)."""
    gain, half = mean_ci95(np.array(accuracies) - np.array(frozen))
    return gain, half, bool(gain - half > 0)


def validation_episodes(data: MetaData, config: MetaTrainConfig) -> list[Episode]:
    mask = np.where(data.is_val_class[data.labels], data.labels, -1)
    classes = eligible_classes(mask, data.groups, config.shots)
    if len(classes) < 2:
        raise MetaTrainError("fewer than two validation classes have enough images; name other --val-classes or add data")
    ways = min(config.ways, len(classes))
    rng = np.random.default_rng([config.seed, 13])
    return [
        sample_episode(rng, mask, data.groups, classes, ways, config.shots, config.queries, open_set=False)
        for _ in range(config.val_episodes)
    ]


def save_checkpoint(
    path: Path, upper: nn.Module, best: dict[str, Tensor], optimiser: torch.optim.Optimizer, state: TrainState, config: MetaTrainConfig
) -> None:
    payload = {
        "upper": upper.state_dict(),
        "best": best,
        "optimiser": optimiser.state_dict(),
        "state": asdict(state),
        "config": asdict(config),
    }
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def load_checkpoint(path: Path, config: MetaTrainConfig) -> dict[str, Any] | None:
    """The checkpoint's contents when it belongs to this run's settings (weights_only: no code runs)."""
    if not path.exists():
        return None
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise MetaTrainError(f"{path}: the checkpoint cannot be read ({exc}); delete it to start over") from exc
    theirs = {k: v for k, v in payload.get("config", {}).items() if k not in ("episodes", "budget_min", "device")}
    ours = {k: v for k, v in asdict(config).items() if k not in ("episodes", "budget_min", "device")}
    if theirs != ours:
        raise MetaTrainError(f"{path}: the checkpoint was made with other settings; delete it or use the same settings to resume")
    return payload


@dataclass(frozen=True)
class MetaTrainResult:
    upper_weights: dict[str, np.ndarray[Any, Any]]
    state: TrainState
    seconds: float
    stopped_because: str


def meta_train(
    data: MetaData, config: MetaTrainConfig, checkpoint: Path, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> MetaTrainResult:
    """Run (or resume) meta-training; returns the best validation weights of the upper layers."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise MetaTrainError("--device cuda: PyTorch sees no CUDA GPU on this machine; use --device cpu")
    torch.manual_seed(config.seed)
    backbone = load_backbone("efficientnet-lite0")
    upper = copy.deepcopy(backbone.upper_module()).to(config.device)
    upper.eval()  # BatchNorm statistics stay those of the pretrained backbone
    upper.requires_grad_(True)
    optimiser = torch.optim.Adam(upper.parameters(), lr=config.learning_rate)
    val = validation_episodes(data, config)
    train_mask = np.where(~data.is_val_class[data.labels], data.labels, -1)
    train_classes = eligible_classes(train_mask, data.groups, config.shots)
    if len(train_classes) < config.ways:
        raise MetaTrainError(f"only {len(train_classes)} training classes have {config.shots} images to spare; use fewer --ways or --shots")
    state, best = TrainState(), {k: v.detach().clone() for k, v in upper.state_dict().items()}
    saved = load_checkpoint(checkpoint, config)
    if saved is not None:
        upper.load_state_dict(saved["upper"])
        optimiser.load_state_dict(saved["optimiser"])
        best, state = saved["best"], TrainState(**saved["state"])
        if not state.frozen_episode_accuracy:  # a checkpoint from before per-episode validation was kept
            pretrained = copy.deepcopy(backbone.upper_module()).to(config.device).eval()
            state.frozen_episode_accuracy = validate(pretrained, data, val, backbone, config.device)
        log.info("resuming meta-training at step %d", state.step)
    else:
        state.frozen_episode_accuracy = validate(upper, data, val, backbone, config.device)
        state.frozen_accuracy = state.best_accuracy = float(np.mean(state.frozen_episode_accuracy))
    state.val_ways = len(val[0].classes)
    return _loop(upper, optimiser, data, config, checkpoint, val, train_mask, train_classes, state, best, backbone, progress, cancel)


def _loop(
    upper: nn.Module,
    optimiser: torch.optim.Optimizer,
    data: MetaData,
    config: MetaTrainConfig,
    checkpoint: Path,
    val: list[Episode],
    train_mask: np.ndarray[Any, Any],
    train_classes: list[int],
    state: TrainState,
    best: dict[str, Tensor],
    backbone: Any,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> MetaTrainResult:
    start, reason = time.perf_counter(), "all episodes done"
    with torch.enable_grad():
        while state.step < config.episodes:
            check_cancel(cancel, "meta-training")
            episode = sample_episode(
                _episode_rng(config.seed, state.step),
                train_mask,
                data.groups,
                train_classes,
                config.ways,
                config.shots,
                config.queries,
                open_set=False,
            )
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
            optimiser.zero_grad()
            loss = episode_loss(upper, data, episode, config, generator, backbone)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            state.step += 1
            if state.step % config.val_every == 0 or state.step == config.episodes:
                per_episode = validate(upper, data, val, backbone, config.device)
                accuracy = float(np.mean(per_episode))
                _gain, half, beyond_noise = significant_gain(per_episode, state.frozen_episode_accuracy)
                state.history.append({"step": state.step, "loss": loss.item(), "val_accuracy": accuracy, "val_gain_ci95": half})
                if accuracy > state.best_accuracy and beyond_noise:
                    state.best_accuracy, state.best_step, state.bad_validations = accuracy, state.step, 0
                    state.best_gain_ci95 = half
                    best = {k: v.detach().clone() for k, v in upper.state_dict().items()}
                else:
                    state.bad_validations += 1
                save_checkpoint(checkpoint, upper, best, optimiser, state, config)
                if state.bad_validations >= config.patience:
                    reason = f"no validation gain in {config.patience} validations"
                    break
            elapsed = time.perf_counter() - start
            if progress is not None:
                progress(
                    state.step / config.episodes,
                    f"episode {state.step}/{config.episodes}, loss {loss.item():.3f}, best val {state.best_accuracy:.3f}",
                )
            if config.budget_min is not None and elapsed > 60 * config.budget_min:
                save_checkpoint(checkpoint, upper, best, optimiser, state, config)
                reason = f"time budget of {config.budget_min} min reached"
                break
    weights = {k: v.detach().cpu().numpy() for k, v in best.items()}
    return MetaTrainResult(weights, state, time.perf_counter() - start, reason)
