"""Command line of the data stage (called by rules/data.smk; runnable by hand).

    sinkprune data corpus --config C --train T --heldout H --provenance P
    sinkprune data tokenizer --config C --train T --out DIR
    sinkprune data streams --config C --tokenizer DIR --train T --out streams.pt
    sinkprune data calibration --config C --tokenizer DIR --heldout H --out calib.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sinkprune.config import load_config
from sinkprune.data.skills import Item


def _skill_examples(config: dict) -> list[Item]:
    from sinkprune.data.skills import training_items

    return training_items(int(config["data"]["skills"]["n_train"]), seed=int(config["seed"]))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one data step."""
    parser = argparse.ArgumentParser(prog="sinkprune data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("corpus", help="offline corpus from standard-library docstrings")
    p.add_argument("--train", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--provenance", required=True)
    p = sub.add_parser("tokenizer", help="train the BPE tokenizer")
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("streams", help="pretokenize the training mix")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("calibration", help="calibration windows (held-out text, or the config's dataset)")
    p.add_argument("--tokenizer", required=True, help="tokenizer or model directory, or hub id")
    p.add_argument("--heldout", help="held-out corpus text (mini scale)")
    p.add_argument("--out", required=True)
    for p in sub.choices.values():
        p.add_argument("--config", required=True, help="validated sinkprune config YAML")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    data = config["data"]

    if args.step == "corpus":
        from sinkprune.data.corpus import write_corpus

        prov = write_corpus(Path(args.train), Path(args.heldout), Path(args.provenance),
                            int(data["corpus"]["max_bytes"]), float(data["corpus"]["heldout_fraction"]))
        print(f"corpus: {prov['train_bytes']} train bytes, {prov['heldout_bytes']} held-out bytes")
    elif args.step == "tokenizer":
        from sinkprune.data.tokenizer import train_tokenizer

        text = Path(args.train).read_text(encoding="utf-8")
        texts = [p for p in text.split("\n\n") if p.strip()] + [it.line for it in _skill_examples(config)]
        tok = train_tokenizer(texts, int(data["tokenizer"]["vocab_size"]), int(data["tokenizer"]["image_tokens"]))
        tok.save_pretrained(args.out)
        print(f"tokenizer: {len(tok)} tokens")
    elif args.step == "streams":
        from sinkprune.data.streams import build_streams, save_tensors
        from sinkprune.data.tokenizer import load_tokenizer

        tok = load_tokenizer(args.tokenizer)
        images = None
        if "images" in data:
            from sinkprune.data.images import image_lines

            images = image_lines(int(data["images"]["n_train"]), int(data["tokenizer"]["image_tokens"]),
                                 seed=int(config["seed"]))
        streams = build_streams(tok, Path(args.train).read_text(encoding="utf-8"), _skill_examples(config), images)
        save_tensors(streams, args.out)
        print({k: tuple(v.shape) for k, v in streams.items()})
    elif args.step == "calibration":
        from sinkprune.data.streams import calibration_batch, dataset_text, save_tensors
        from sinkprune.data.tokenizer import load_tokenizer

        calib = data["calibration"]
        if "dataset" in calib:  # paper scale: the released code's WikiText-2 windows
            text = dataset_text(calib["dataset"], calib.get("subset"), calib.get("split", "train"))
        elif args.heldout:
            text = Path(args.heldout).read_text(encoding="utf-8")
        else:
            raise ValueError("config 'data.calibration' has no 'dataset' and no --heldout text was given")
        tok = load_tokenizer(args.tokenizer)
        if tok.bos_token_id is None:
            raise ValueError(f"tokenizer {args.tokenizer} has no BOS token; calibration windows start with BOS")
        ids = calibration_batch(tok, text, int(calib["n_samples"]), int(calib["seq_len"]), int(config["seed"]))
        save_tensors({"input_ids": ids}, args.out)
        print(f"calibration: {tuple(ids.shape)}")

if __name__ == "__main__":
    main()
