"""Two CPU processes with gloo: parameters agree across ranks and equal one process with the combined batch."""

import os
import socket

import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf
from train_helpers import compose_train, tiny_overrides

from graph_energy.cli.train import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cfg_dict: dict, out_dir: str, data_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), GEM_DATA_DIR=data_dir)
    torch.set_num_threads(1)
    result = train(OmegaConf.create(cfg_dict))
    torch.save({k: v.detach().clone() for k, v in result.model.state_dict().items()},
               os.path.join(out_dir, f"rank{rank}.pt"))


def test_two_process_gloo_matches_single_process(smiles_file, tmp_path):
    steps = dict(max_steps=3, batch_size=4, val_every=0, ckpt_every=0, ema_decay="null")
    # plain SGD: the update is linear in the gradient, so the comparison is well conditioned (Adam's first
    # steps amplify rounding differences of near-zero gradients to full-size updates)
    sgd = ["optim.optimizer._target_=torch.optim.SGD", "~optim.optimizer.betas", "optim.optimizer.lr=0.05"]
    ddp_cfg = compose_train(tiny_overrides(smiles_file, tmp_path / "ddp", **steps) + sgd)
    # the single run also builds the data cache, so that both ranks only read it
    single_cfg = compose_train(tiny_overrides(smiles_file, tmp_path / "single", accum_steps=2, **steps) + sgd)
    single = train(single_cfg)
    mp.spawn(_worker, args=(2, _free_port(), OmegaConf.to_container(ddp_cfg), str(tmp_path),
                            os.environ["GEM_DATA_DIR"]), nprocs=2, join=True)
    p0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    p1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    ref = single.model.state_dict()
    from graph_energy.models import build_energy_model
    from graph_energy.training import load_checkpoint

    spec = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt").molecular_spec()
    torch.manual_seed(int(single_cfg.seed))  # same seed -> the initial weights of all three runs
    w0 = build_energy_model(OmegaConf.to_container(single_cfg.model), spec).state_dict()
    upd, err = 0.0, 0.0
    for k in p0:
        assert torch.equal(p0[k], p1[k]), f"ranks disagree on {k}"
        if p0[k].dtype.is_floating_point:
            upd = max(upd, float((ref[k] - w0[k]).abs().max()))
            err = max(err, float((p0[k] - ref[k]).abs().max()))
    assert upd > 1e-4 and err < 1e-6, (upd, err)
