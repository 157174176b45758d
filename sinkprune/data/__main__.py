"""Command line of the data stage (called by rules/data.smk; runnable by hand).

    sinkprune data corpus --config C --train T --heldout H --provenance P
    sinkprune data tokenizer --config C --train T --out DIR
    sinkprune data streams --config C --tokenizer DIR --train T --out streams.pt
    sinkprune data calibration --config C --tokenizer DIR --heldout H --out calib.pt
"""

from __future__ import annotations

from pathlib import Path

from sinkprune.config import load_config
from sinkprune.data.skills import Item
from sinkprune.stage_parser import stage_parser


def _skill_examples(config: dict) -> list[Item]:
    from sinkprune.data.skills import training_items

    return training_items(int(config["data"]["skills"]["n_train"]), seed=int(config["seed"]))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one data step."""
    parser, steps = stage_parser("data", __doc__, {
        "corpus": "offline corpus from standard-library docstrings",
        "tokenizer": "train the BPE tokenizer",
        "streams": "pretokenize the training mix",
        "calibration": "calibration windows (held-out text, or the config's dataset)"})
    p = steps["corpus"]
    p.add_argument("--train", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--provenance", required=True)
    p = steps["tokenizer"]
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p = steps["streams"]
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p = steps["calibration"]
    p.add_argument("--tokenizer", required=True, help="tokenizer or model directory, or hub id")
    p.add_argument("--heldout", help="held-out corpus text (mini scale)")
    p.add_argument("--out", required=True)
    for p in steps.values():
        p.add_argument("--config", required=True, help="validated sinkprune config YAML")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    data = config["data"]
    if args.step == "calibration":
        from sinkprune.hub import use_offline_cache

        use_offline_cache()

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
        if config["protocol"] == "released":  # the released loader's windows, no BOS check
            from sinkprune.data.streams import dataset_rows, released_calibration_batch, text_rows

            if "dataset" in calib:
                rows = dataset_rows(calib["dataset"], calib.get("subset"), calib.get("split", "train"))
            elif args.heldout:
                rows = text_rows(Path(args.heldout).read_text(encoding="utf-8"))
            else:
                raise ValueError("config 'data.calibration' has no 'dataset' and no --heldout text was given")
            ids = released_calibration_batch(load_tokenizer(args.tokenizer), rows, int(calib["n_samples"]),
                                             int(calib["seq_len"]), int(config["seed"]))
            save_tensors({"input_ids": ids}, args.out)
            print(f"calibration (protocol released): {tuple(ids.shape)}")
            return
        if "dataset" in calib:  # paper scale: the released code's WikiText-2 windows
            text = dataset_text(calib["dataset"], calib.get("subset"), calib.get("split", "train"))
        elif args.heldout:
            text = Path(args.heldout).read_text(encoding="utf-8")
        else:
            raise ValueError("config 'data.calibration' has no 'dataset' and no --heldout text was given")
        from sinkprune.models.checkpoint import resolve_checkpoint
        from sinkprune.models.special_tokens import bos_id

        tok = load_tokenizer(args.tokenizer)
        # The model's BOS rule, the same sinks and evaluation use (none for Qwen2.5).
        bos = bos_id(resolve_checkpoint(args.tokenizer), tokenizer=tok)
        ids = calibration_batch(tok, text, int(calib["n_samples"]), int(calib["seq_len"]), int(config["seed"]),
                                bos_id=bos.id)
        save_tensors({"input_ids": ids}, args.out)
        print(f"calibration: {tuple(ids.shape)}, {bos.describe()}")

if __name__ == "__main__":
    main()
