"""Command line of the models stage (rules/models.smk).

    sinkprune models train --config C --model tiny-llada --tokenizer DIR \
        --streams streams.pt --trained DIR --untrained DIR --log train.json

Builds the named mini model in its family's on-disk format, saves the untrained initialisation
(the control for every sink statistic), trains it, and saves the trained checkpoint; both
directories carry the tokenizer so ``load_model`` + ``AutoTokenizer`` work on either.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sinkprune.config import load_config, set_threads
from sinkprune.stage_parser import stage_parser


# Further untrained seeds (sinks.untrained_seeds): the model's own init seed + stride × index.
UNTRAINED_SEED_STRIDE = 1000


def untrained_seed(config: dict, model: str, index: int) -> int:
    """Init seed of a model's ``index``-th untrained control (0: the seed the model starts from)."""
    return int(config["seed"]) + int(config["models"][model].get("seed_offset", 0)) + UNTRAINED_SEED_STRIDE * index


def train_command(args: argparse.Namespace) -> None:
    """Build, save the untrained controls, train, save trained."""
    from sinkprune.data.tokenizer import load_tokenizer, special_ids
    from sinkprune.models import build_model, load_model, save_model
    from sinkprune.models.train import TrainSettings, copy_tokenizer, timed_train, write_train_log

    config = load_config(args.config)
    set_threads(config)
    if args.model not in config["models"]:
        raise KeyError(f"model {args.model!r} is not a key of config 'models' ({', '.join(config['models'])})")
    spec = config["models"][args.model]
    if "train" not in spec:
        raise KeyError(f"config 'models.{args.model}' has no 'train' section: it is not trained in the DAG")
    tok = load_tokenizer(args.tokenizer)
    seq_len = int(config["data"]["seq_len"])

    def init(index: int):
        return build_model(spec["family"], spec["arch"], vocab_size=len(tok), max_seq_len=seq_len,
                           special_ids=special_ids(tok), seed=untrained_seed(config, args.model, index))

    # The controls are random initialisations of this architecture, saved before any weights are
    # transferred from a parent model (tiny-dream starts from tiny-ar, as Dream from Qwen2); the
    # first is the one training starts from, the others are further seeds (sinks.untrained_seeds).
    for index, out in enumerate(args.untrained):
        save_model(init(index), out)
        copy_tokenizer(args.tokenizer, out)
    model = init(0)
    settings = TrainSettings.from_config(spec["train"], seq_len=seq_len, seed=untrained_seed(config, args.model, 0))
    Path(args.trained).mkdir(parents=True, exist_ok=True)
    if spec["train"].get("init_from"):
        if not args.init:
            raise ValueError(f"config 'models.{args.model}.train.init_from' is set but --init was not given")
        from sinkprune.models import transfer_weights

        transfer_weights(load_model(args.init), model)
    streams = torch.load(args.streams)
    log, seconds = timed_train(model, streams, settings)
    save_model(model, args.trained)
    copy_tokenizer(args.tokenizer, args.trained)
    n_params = sum(p.numel() for p in model.parameters())
    write_train_log(args.log, log, settings, n_params)
    tokens = settings.steps * settings.batch_size * settings.seq_len
    print(f"{args.model}: {n_params} parameters, final loss {log[-1]['loss']:.4f}, "
          f"{seconds:.1f} s, {tokens / seconds:.0f} tokens/s")


def init_command(args: argparse.Namespace) -> None:
    """Random weights in the architecture of a hub / local checkpoint: an untrained control."""
    from sinkprune.device import resolve_dtype
    from sinkprune.models import save_model
    from sinkprune.models.checkpoint import random_like

    config = load_config(args.config)
    set_threads(config)
    spec = config["models"].get(args.model)
    if spec is None or "path" not in spec:
        raise KeyError(f"config 'models.{args.model}' has no 'path': nothing to build an untrained control from")
    seed = untrained_seed(config, args.model, args.seed_index)
    save_model(random_like(spec["path"], seed=seed, dtype=resolve_dtype(config.get("dtype"))), args.out)
    print(f"{args.model}: untrained control (seed index {args.seed_index}, seed {seed}) of {spec['path']} "
          f"written to {args.out}")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one models step."""
    parser, steps = stage_parser("models", __doc__, {
        "train": "train one mini model",
        "init": "untrained control of a hub / local checkpoint (paper scale)"}, offline=True)
    p = steps["train"]
    p.add_argument("--config", required=True)
    p.add_argument("--model", required=True, help="key of config 'models'")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--streams", required=True)
    p.add_argument("--init", help="checkpoint to initialise from (train.init_from)")
    p.add_argument("--trained", required=True)
    p.add_argument("--untrained", nargs="+", required=True,
                   help="untrained control directories, one per seed index (0: the init training starts from)")
    p.add_argument("--log", required=True)
    p = steps["init"]
    p.add_argument("--config", required=True)
    p.add_argument("--model", required=True, help="key of config 'models' with a 'path'")
    p.add_argument("--seed-index", type=int, default=0, help="0: the model's own init seed; N: a further seed")
    p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"train": train_command, "init": init_command}[args.step](args)


if __name__ == "__main__":
    main()
