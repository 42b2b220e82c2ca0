"""Development episodes run once and saved, so calibrations can be fitted and scored without re-running them.

A record file holds, per episode, what the classifier produced before any calibration: the query
and held-out-class logits, the targets, the support set's task statistics, the easyfsl 1.5.0
ProtoNet baseline on the same episode (frozen Lite0 head features), and times. The adaptation's own
loss temperature is fixed (core.fewshot.adaptation.loss_temperature), so the logits do not depend
on the calibration being fitted. Files are .npz without pickle; they live outside the repository
(they hold nothing but numbers, yet are derived from ../shared/data).
"""

from __future__ import annotations

import logging
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.embedding import EmbeddingResult, load_backbone
from core.evaluation import load_folder_dataset, run_episode, sample_episodes
from core.evaluation.dataset import FolderDataset
from core.evaluation.episodes import sample_pools
from core.evaluation.runner import embed_dataset
from core.fewshot import PrototypicalClassifier
from core.fewshot.calibration import TaskStatistics, softmax

log = logging.getLogger(__name__)

# the four development domains and their group columns (None: no patient IDs; see each README)
DOMAINS: dict[str, str | None] = {
    "rbc-morphology": "manifest.csv:source_smear",
    "chest-xray-findings": "manifest.csv:patientid",
    "breast-ultrasound": None,
    "dermoscopy-isic2017": None,
}


@dataclass
class Episodes:
    """The saved episodes of one (domain, seed, shots, adapt) run; arrays are per episode unless said."""

    domain: str
    logits: list[np.ndarray]  # (n_query, ways) each
    targets: list[np.ndarray]
    unknown_logits: list[np.ndarray]  # (n_unknown, ways) each
    stats: list[TaskStatistics]
    spread: np.ndarray
    baseline_accuracy: np.ndarray  # easyfsl ProtoNet on the same episode
    baseline_confidence: list[np.ndarray]
    baseline_correct: list[np.ndarray]
    adapt_seconds: np.ndarray
    support_loo: list[np.ndarray]  # (n_support, ways) each; zero rows when no class has two examples
    support_targets: list[np.ndarray]
    novelty: list[np.ndarray]  # (n_query,) as the classifier judges "none of these" (frozen embedding)
    unknown_novelty: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.logits)


def ways_for(ds: FolderDataset, ways: int) -> int:
    """Ways capped so a class is always left out of the episode (the open-set queries)."""
    return min(ways, len(ds.classes) - 1)


def easyfsl_episode(head: torch.Tensor, ep: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """easyfsl 1.5.0 PrototypicalNetworks on one episode: accuracy, confidences, correctness."""
    from easyfsl.methods import PrototypicalNetworks

    model = PrototypicalNetworks(torch.nn.Identity(), use_softmax=True)
    order = {c: i for i, c in enumerate(ep.classes)}
    with torch.inference_mode():
        model.process_support_set(head[ep.support], torch.tensor([order[c] for c in ep.support_labels]))
        proba = model(head[ep.query]).numpy()
    truth = np.array([order[c] for c in ep.query_labels])
    ok = proba.argmax(1) == truth
    return float(ok.mean()), proba.max(1), ok


def collect(
    data: Path,
    domain: str,
    seed: int,
    shots: int,
    adapt: str,
    episodes: int,
    ways: int = 5,
    queries: int = 15,
    backbone: str = "efficientnet-lite0",
    pool: int = 0,
) -> Episodes:
    """Run ``episodes`` episodes of one domain (same sampler and seeds as ``raresight eval``); with ``pool`` each
    episode also learns from that many unlabelled images, drawn as ``raresight eval --unlabelled`` draws them."""
    ds = load_folder_dataset(data / domain, DOMAINS[domain])
    emb, _ = embed_dataset(ds, backbone, activations=adapt != "none")
    return run_episodes(ds, emb, domain, seed, shots, adapt, episodes, ways_for(ds, ways), queries, backbone, pool)


def run_episodes(
    ds: FolderDataset,
    emb: EmbeddingResult,
    domain: str,
    seed: int,
    shots: int,
    adapt: str,
    episodes: int,
    ways: int,
    queries: int,
    backbone: str = "efficientnet-lite0",
    pool: int = 0,
) -> Episodes:
    """The episodes through the engine on ``backbone``'s embeddings ``emb``; the easyfsl baseline always on Lite0's head
    (it reads ``emb``'s head block, so pass Lite0's embeddings for the baseline figures to be the anchor's)."""
    readable = np.flatnonzero(emb.ok)
    assert len(readable) == len(ds.files), "development data must all be readable"
    head = torch.from_numpy(emb.raw[:, 0, -load_backbone("efficientnet-lite0").layout[-1][1] :]).float()
    _, eps = sample_episodes(ds.labels, ds.groups, ways, shots, queries, episodes, seed)
    pools = sample_pools(ds.labels, ds.groups, eps, pool, seed) if pool > 0 else [None] * len(eps)
    out = Episodes(domain, [], [], [], [], np.zeros(len(eps)), np.zeros(len(eps)), [], [], np.zeros(len(eps)), [], [], [], [])
    for i, ep in enumerate(eps):
        # a generous budget: the 40 steps, not the load on the machine, bound adaptation, so records are reproducible
        clf = PrototypicalClassifier(
            backbone,
            adapt=adapt,
            adapt_seconds=300.0,
            random_state=seed * 100003 + i,  # type: ignore[arg-type]
        )
        r = run_episode(clf, emb, ds, ep, 0.9, pools[i])  # the classifier's default pool method, as the app uses it
        assert r.stats is not None
        out.logits.append(r.logits)
        out.targets.append(r.targets)
        out.unknown_logits.append(r.unknown_logits)
        out.stats.append(r.stats)
        out.spread[i] = r.spread
        out.adapt_seconds[i] = r.adapt_seconds
        out.support_loo.append(r.support_loo if r.support_loo is not None else np.zeros((0, r.ways)))
        out.support_targets.append(r.support_targets if r.support_loo is not None else np.zeros(0, dtype=np.int64))
        out.novelty.append(r.query_novelty())
        out.unknown_novelty.append(r.unknown_query_novelty())
        acc, conf, ok = easyfsl_episode(head, ep)
        out.baseline_accuracy[i] = acc
        out.baseline_confidence.append(conf)
        out.baseline_correct.append(ok)
        if (i + 1) % 20 == 0:
            log.info("%s seed %d %d-shot %s: %d of %d episodes", domain, seed, shots, adapt, i + 1, len(eps))
    return out


def _ragged(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    return flat, lengths


def save(path: Path, eps: Episodes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"domain": np.array(eps.domain)}
    for name in (
        "logits",
        "targets",
        "unknown_logits",
        "baseline_confidence",
        "baseline_correct",
        "support_loo",
        "support_targets",
        "novelty",
        "unknown_novelty",
    ):
        flat, lengths = _ragged(getattr(eps, name))
        arrays[name], arrays[f"{name}_lengths"] = flat, lengths
    arrays["stats"] = np.array([astuple(s) for s in eps.stats], dtype=np.float64)
    for name in ("spread", "baseline_accuracy", "adapt_seconds"):
        arrays[name] = getattr(eps, name)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load(path: Path) -> Episodes:
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}

    def split(name: str) -> list[np.ndarray]:
        bounds = np.cumsum(data[f"{name}_lengths"])[:-1]
        return list(np.split(data[name], bounds))

    ways = data["stats"][:, 1].astype(int)
    logits = [a.reshape(-1, w) for a, w in zip(split("logits"), ways, strict=True)]
    unknown = [a.reshape(-1, w) for a, w in zip(split("unknown_logits"), ways, strict=True)]
    stats = [TaskStatistics(float(s[0]), int(s[1]), float(s[2]), float(s[3]), float(s[4]), bool(s[5]), float(s[6])) for s in data["stats"]]
    return Episodes(
        str(data["domain"]),
        logits,
        [t.astype(np.int64) for t in split("targets")],
        unknown,
        stats,
        data["spread"],
        data["baseline_accuracy"],
        split("baseline_confidence"),
        [b.astype(bool) for b in split("baseline_correct")],
        data["adapt_seconds"],
        [a.reshape(-1, w) for a, w in zip(split("support_loo"), ways, strict=True)],
        [t.astype(np.int64) for t in split("support_targets")],
        # files saved before novelty was recorded hold frozen episodes only, where it is -max logit / spread
        split("novelty") if "novelty" in data else [-lg.max(axis=1) / sp for lg, sp in zip(logits, data["spread"], strict=True)],
        split("unknown_novelty")
        if "unknown_novelty" in data
        else [-u.max(axis=1) / sp if len(u) else np.zeros(0) for u, sp in zip(unknown, data["spread"], strict=True)],
    )


def probabilities(eps: Episodes, temperatures: np.ndarray) -> list[np.ndarray]:
    return [softmax(lg / t) for lg, t in zip(eps.logits, temperatures, strict=True)]
