"""Throughput of the energy network against the yardstick ``anchor_bench.py``, in one process.

For each model preset and each case (QM9 size: 9 nodes; MOSES size: 27 nodes) it measures

* train:  graphs/s of one transport-loss step (forward, input gradient with ``create_graph=True``,
          Huber loss, backward, AdamW step);
* sample: chain-steps/s of one sampling step (forward + input gradient, nothing kept);

for our :class:`GraphTransformerEnergy` (structural features included) and for the yardstick's bare
dense transformer at the same depth and widths (imported from ``--anchor``, never copied), both in
wall-clock time and in process CPU time (robust on a shared machine; use ``--threads 1`` there, as
idle OpenMP threads spin and count as CPU time), interleaved over ``--rounds`` (best round kept;
``--iters`` is multiplied by 20/5/2 for tiny/small/base). Memory: on CUDA the peak allocated memory; on CPU the bytes of tensors autograd
saves during one train step (deduplicated by storage), a machine-independent activation footprint.

Batches default to 512 (QM9) / 128 (MOSES) on a GPU and to the yardstick's CPU batches 64 / 16 on
CPU. Example (from the repository root)::

    python experiments/benchmarks/bench_energy.py --presets small paper --iters 3 --rounds 2 \
        --out experiments/results/bench_energy_cpu
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.models import build_energy_model, energy_and_grad

REPO = Path(__file__).resolve().parents[2]
CASES = {"qm9": (9, 512, 64), "moses": (27, 128, 16)}  # nodes, GPU batch, CPU batch
ATOMS = ("C", "N", "O", "F", "S", "Cl", "Br", "N+")     # 8 node classes, 5 edge classes: as the yardstick
ITER_SCALE = {"tiny": 20, "small": 5, "base": 2}         # more timed steps for the fast presets


def load_anchor(path: Path) -> types.ModuleType:
    if not path.is_file():
        sys.exit(f"yardstick not found at {path}; pass --anchor PATH/TO/anchor_bench.py")
    spec = importlib.util.spec_from_file_location("anchor_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, iters: int, dev: torch.device) -> tuple[float, float]:
    """Seconds per call (wall, process CPU) after two warm-up calls."""
    fn()
    fn()
    sync(dev)
    w, c = time.perf_counter(), time.process_time()
    for _ in range(iters):
        fn()
    sync(dev)
    return (time.perf_counter() - w) / iters, (time.process_time() - c) / iters


def saved_bytes(fn) -> int:
    """Bytes of distinct storages autograd saves while ``fn`` runs."""
    seen: dict[int, int] = {}

    def pack(t):
        if isinstance(t, torch.Tensor) and t.device.type != "meta":
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def our_steps(cfg: dict, b: int, n: int, dev: torch.device, anchor):
    spec = MolecularSpec("bench", ATOMS, ("none", "single", "double", "triple", "aromatic"), n, kekulize=False)
    torch.manual_seed(0)
    model = build_energy_model(cfg, spec).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    X, E, mask = anchor.batch(b, n, len(ATOMS), 5, dev)
    E = E * (~torch.eye(n, dtype=torch.bool, device=dev))[None, :, :, None]  # our graphs have no diagonal
    graph = DenseGraph(X, E, mask)
    tX, tE = torch.randn_like(X).clamp(-1, 1), torch.randn_like(E).clamp(-1, 1)

    def train():
        ev = energy_and_grad(model, graph, create_graph=True)
        loss = F.huber_loss(-ev.grad_x.float().clamp(-10, 10), tX) + F.huber_loss(-ev.grad_e.float().clamp(-10, 10), tE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sample():
        energy_and_grad(model, graph)

    def forward_grad():
        energy_and_grad(model, graph, create_graph=True)

    return model, train, sample, forward_grad


def anchor_forward_grad(anchor, b, n, layers, dx, de, dev):
    model = anchor.Energy(len(ATOMS), 5, layers, dx, de, 8).to(dev)
    X, E, mask = anchor.batch(b, n, len(ATOMS), 5, dev)

    def fg():
        Xg, Eg = X.clone().requires_grad_(), E.clone().requires_grad_()
        torch.autograd.grad(model(Xg, Eg, mask).sum(), (Xg, Eg), create_graph=True)

    return fg


def run_anchor(anchor, dev, b, n, layers, dx, de, iters) -> dict:
    """The yardstick's own ``bench``; on CPU its timer also records process CPU time.

    ``bench`` reads its clock twice per mode (train, then sample); the shim returns wall time to it
    and keeps the CPU time of the same instants, giving both measures from one run.
    """
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stamps: list[tuple[float, float]] = []

    def clock() -> float:
        stamps.append((time.perf_counter(), time.process_time()))
        return stamps[-1][0]

    real_time = anchor.time
    anchor.time = types.SimpleNamespace(perf_counter=clock)
    try:
        r = anchor.bench(dev, b, n, layers, dx, de, iters, torch.float32)
    finally:
        anchor.time = real_time
    if len(stamps) == 4 and dev.type == "cpu":
        for mode, (t0, t1) in zip(("train", "sample"), ((stamps[0], stamps[1]), (stamps[2], stamps[3]))):
            r[f"{mode}_graphs_per_s_cpu"] = round(b * iters / max(t1[1] - t0[1], 1e-9), 1)
    return r


def model_preset(name: str) -> dict:
    """The resolved ``conf/model/<name>.yaml`` (presets share ``_base.yaml`` through a defaults list)."""
    with initialize_config_module("graph_energy.conf", version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides=[f"model={name}"]).model, resolve=True)


def bench_case(anchor, preset: str, case: str, b: int, dev: torch.device, iters: int, rounds: int) -> dict:
    n = CASES[case][0]
    cfg = model_preset(preset)
    L, dx, de = cfg["n_layers"], cfg["hidden_x"], cfg["hidden_e"]
    iters = iters * ITER_SCALE.get(preset, 1)
    model, train, sample, fg = our_steps(cfg, b, n, dev, anchor)
    best: dict[str, float] = {}

    def keep(key: str, sec: float) -> None:
        best[key] = max(best.get(key, 0.0), b / sec)

    for _ in range(rounds):
        for mode, fn in (("train", train), ("sample", sample)):
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            w, c = timed(fn, iters, dev)
            keep(f"ours_{mode}_wall", w)
            keep(f"ours_{mode}_cpu", c)
            if dev.type == "cuda":
                best[f"ours_{mode}_peak_GB"] = round(torch.cuda.max_memory_allocated() / 1e9, 3)
        r = run_anchor(anchor, dev, b, n, L, dx, de, iters)
        for mode in ("train", "sample"):
            best[f"anchor_{mode}_wall"] = max(best.get(f"anchor_{mode}_wall", 0.0), r[f"{mode}_graphs_per_s"])
            if f"{mode}_graphs_per_s_cpu" in r:
                best[f"anchor_{mode}_cpu"] = max(best.get(f"anchor_{mode}_cpu", 0.0), r[f"{mode}_graphs_per_s_cpu"])
        if "peak_mem_GB" in r:
            best["anchor_train_peak_GB"] = r["peak_mem_GB"]
    row = {"preset": preset, "case": case, "batch": b, "nodes": n, "layers": L, "dx": dx, "de": de, "iters": iters,
           "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}
    row.update({k: round(v, 1) if isinstance(v, float) and "GB" not in k else v for k, v in best.items()})
    if dev.type == "cpu":
        row["ours_saved_MB"] = round(saved_bytes(fg) / 2**20, 1)
        row["anchor_saved_MB"] = round(saved_bytes(anchor_forward_grad(anchor, b, n, L, dx, de, dev)) / 2**20, 1)
    for mode in ("train", "sample"):
        for tag in ("wall", "cpu"):
            if f"anchor_{mode}_{tag}" in row and row[f"anchor_{mode}_{tag}"]:
                row[f"ratio_{mode}_{tag}"] = round(row[f"ours_{mode}_{tag}"] / row[f"anchor_{mode}_{tag}"], 2)
    return row


def to_markdown(rows: list[dict], meta: dict) -> str:
    cpu = meta["device"] == "cpu"
    head = ["preset", "case", "batch×nodes", "params M", "train g/s (ours / yardstick / ratio)",
            "sample steps/s (ours / yardstick / ratio)"]
    if cpu:
        head += ["train ratio (CPU time)", "sample ratio (CPU time)", "saved MB (ours / yardstick)"]
    else:
        head += ["train peak GB (ours / yardstick)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["preset"], r["case"], f"{r['batch']}×{r['nodes']}", str(r["params_M"]),
                 f"{r['ours_train_wall']} / {r['anchor_train_wall']} / {r.get('ratio_train_wall')}",
                 f"{r['ours_sample_wall']} / {r['anchor_sample_wall']} / {r.get('ratio_sample_wall')}"]
        if cpu:
            cells += [str(r.get("ratio_train_cpu")), str(r.get("ratio_sample_cpu")),
                      f"{r['ours_saved_MB']} / {r['anchor_saved_MB']}"]
        else:
            cells += [f"{r.get('ours_train_peak_GB')} / {r.get('anchor_train_peak_GB')}"]
        lines.append("| " + " | ".join(cells) + " |")
    info = ", ".join(f"{k}={v}" for k, v in meta.items())
    return f"Energy network throughput vs the yardstick ({info}).\n\n" + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["tiny", "small", "base", "paper"])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-qm9", type=int, default=None, help="default 512 on GPU, 64 on CPU")
    ap.add_argument("--batch-moses", type=int, default=None, help="default 128 on GPU, 16 on CPU")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--anchor", type=Path, default=REPO.parent / "shared" / "tools" / "anchor_bench.py")
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # as the yardstick does
    anchor = load_anchor(a.anchor.resolve())
    gpu = dev.type == "cuda"
    batches = {"qm9": a.batch_qm9 or CASES["qm9"][1 if gpu else 2],
               "moses": a.batch_moses or CASES["moses"][1 if gpu else 2]}
    meta = {"device": dev.type, "name": torch.cuda.get_device_name(dev) if gpu else platform.processor() or "cpu",
            "threads": torch.get_num_threads(), "torch": torch.__version__, "iters": a.iters, "rounds": a.rounds}
    rows = []
    for case in a.cases:
        for preset in a.presets:
            row = bench_case(anchor, preset, case, batches[case], dev, a.iters, a.rounds)
            print(json.dumps(row), flush=True)
            rows.append(row)
    md = to_markdown(rows, meta)
    print(md)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        a.out.with_suffix(".md").write_text(md)


if __name__ == "__main__":
    main()
