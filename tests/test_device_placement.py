"""Every tensor a stage creates lives on the model's device.

With ``torch.set_default_device("meta")`` around a stage and the model on the CPU, a tensor
created without an explicit device (``torch.zeros(n)``) becomes a meta tensor: it has no data,
so the stage either fails or its result differs from the same stage run normally. Each stage
here must give exactly the result of its normal run. On a GPU the same omission would put an
accumulator on the CPU next to a CUDA model.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
import torch

from sinkprune.models import build_model
from sinkprune.prune.methods import METHODS, STRUCTURED, prune_model
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import SharedStats, compute_shared_stats
from sinkprune.sinks.settings import SinkSettings

torch.set_num_threads(1)

ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "tie_embeddings": True}
SPECIAL = {"bos": 1, "eos": 2, "pad": 3, "mask": 4}
VOCAB, SEQ, N = 64, 24, 5
SETTINGS = PruneSettings(blocksize=16)  # several SparseGPT blocks per layer


@contextlib.contextmanager
def meta_default() -> Iterator[None]:
    """Tensors created without a device inside the block are meta tensors."""
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(previous)


def _model(family: str):
    special = SPECIAL if family != "llama" else {k: v for k, v in SPECIAL.items() if k != "mask"}
    return build_model(family, ARCH, VOCAB, SEQ, special, seed=0)


def _ids(seed: int = 0) -> torch.Tensor:
    ids = torch.randint(5, VOCAB, (N, SEQ), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = SPECIAL["bos"]
    return ids


def _equal_stats(a: SharedStats, b: SharedStats) -> bool:
    tensors = lambda s: [s.noisy, s.scores, s.stable_sinks]
    return (a.timesteps == b.timesteps and a.meta == b.meta
            and all(x.device.type == "cpu" and torch.equal(x, y) for x, y in zip(tensors(a), tensors(b)))
            and (a.stable is None) == (b.stable is None)
            and (a.stable is None or torch.equal(a.stable, b.stable)))


def test_meta_default_turns_a_device_less_tensor_into_meta() -> None:
    """The mechanism the tests below rely on."""
    with meta_default():
        assert torch.zeros(3).is_meta
        assert torch.rand(3, generator=torch.Generator().manual_seed(0)).is_meta
        assert torch.zeros(3, device="cpu").device.type == "cpu"
    assert torch.zeros(3).device.type == "cpu"


def test_a_device_less_accumulator_fails_the_stage(monkeypatch) -> None:
    """Proof the test can fail: SparseGPT with its Hessian created without a device."""
    import sinkprune.prune.sparsegpt as sparsegpt

    def careless_init(self, columns: int, released: bool = False, device=None) -> None:
        self.sum = torch.zeros(columns, columns)  # no device: meta inside meta_default()
        self.count = 0
        self.released = released

    model, ids = _model("llada"), _ids()
    reference = copy.deepcopy(model)
    prune_model(reference, "sparsegpt", parse_sparsity("0.50"), ids, None, SETTINGS)
    monkeypatch.setattr(sparsegpt.HessianAccumulator, "__init__", careless_init)
    try:
        with meta_default():
            prune_model(model, "sparsegpt", parse_sparsity("0.50"), ids, None, SETTINGS)
    except (RuntimeError, NotImplementedError, ValueError):
        return  # failed loudly
    assert not all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                       reference.state_dict().values())), \
        "a meta Hessian went unnoticed"
    pytest.fail("the careless stage should have failed")


@pytest.mark.parametrize("family,sinks", [("llada", SinkSettings()), ("dream", SinkSettings()),
                                          ("llama", SinkSettings()),
                                          ("llada", SinkSettings(rule="hard", gate="unstable"))])
def test_prune_stats_on_the_model_device(family: str, sinks: SinkSettings) -> None:
    model, ids = _model(family), _ids()
    reference = compute_shared_stats(model, ids, sinks, seed=0)
    with meta_default():
        stats = compute_shared_stats(model, ids, sinks, seed=0)
    assert _equal_stats(stats, reference)


@pytest.fixture(scope="module")
def llada_with_stats():
    model, ids = _model("llada"), _ids()
    return model, ids, compute_shared_stats(model, ids, replace(SETTINGS.sinks), seed=0)


@pytest.mark.parametrize("method,spec", [(m, "0.50") for m in METHODS if m not in STRUCTURED]
                         + [("wanda", "2-4"), ("sparsegpt", "2-4"), ("magnitude", "2-4")]
                         + [(m, "0.30") for m in STRUCTURED])
def test_every_pruning_method_on_the_model_device(llada_with_stats, method: str, spec: str) -> None:
    base, ids, shared = llada_with_stats
    reference, model = copy.deepcopy(base), copy.deepcopy(base)
    prune_model(reference, method, parse_sparsity(spec), ids, shared, SETTINGS)
    with meta_default():
        prune_model(model, method, parse_sparsity(spec), ids, shared, SETTINGS)
    got, want = model.state_dict(), reference.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize("family,kind", [("llada", "noised"), ("dream", "noised"), ("llada", "generate"),
                                         ("dream", "generate"), ("llama", "ar_prefix"), ("llama", "generate")])
def test_sink_trajectory_and_statistics_on_the_model_device(family: str, kind: str) -> None:
    from sinkprune.sinks.stats import sequence_statistics
    from sinkprune.sinks.trajectory import build_trajectory

    settings = SinkSettings(analysis_samples=3, prompt_len=6, gen_length=8, gen_steps=4, block_length=4)
    model, ids = _model(family), _ids()
    reference = build_trajectory(model, ids, kind, settings)
    want = sequence_statistics(reference.mass, reference.kinds, reference.lengths, settings)
    with meta_default():
        traj = build_trajectory(model, ids, kind, settings)
        got = sequence_statistics(traj.mass, traj.kinds, traj.lengths, settings)
    for field in ("mass", "ids", "kinds", "lengths", "times"):
        assert np.array_equal(getattr(traj, field), getattr(reference, field)), field
    assert got.keys() == want.keys()
    assert all(np.array_equal(got[k], want[k], equal_nan=True) for k in want)


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """SinkpruneLM over an untrained LLaDA- and an AR-family checkpoint with a real tokenizer."""
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.evaluate.lm import SinkpruneLM
    from sinkprune.models import save_model

    tok = train_tokenizer(training_lines(300, 0), vocab_size=300, image_tokens=0)
    root = tmp_path_factory.mktemp("lm")
    out = {}
    for family in ("llada", "llama"):
        model = build_model(family, ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
        save_model(model, root / family)
        tok.save_pretrained(str(root / family))
        out[family] = SinkpruneLM(pretrained=str(root / family), mc_num=8, batch_size=4, gen_length=8, steps=4,
                                  block_length=4, device="cpu", dtype="float32")
    return out


@pytest.mark.parametrize("family", ["llada", "llama"])
def test_evaluation_on_the_model_device(lms, family: str) -> None:
    from lm_eval.api.instance import Instance

    lm = lms[family]
    pairs = [("max of 4 9 2 is", " 9"), ("sort 5 2 8 :", " 2 5 8"), ("", " the end")]
    requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    gen = [Instance("generate_until", {}, ("sort 5 2 8 :", {"until": ["\n"]}), 0)]
    rolling = [Instance("loglikelihood_rolling", {}, ("max of 4 9 2 is 9",), 0)]
    want = (lm.loglikelihood(requests), lm.generate_until(gen), lm.loglikelihood_rolling(rolling))
    with meta_default():
        got = (lm.loglikelihood(requests), lm.generate_until(gen), lm.loglikelihood_rolling(rolling))
    assert got == want


def test_device_and_dtype_keys_resolve_or_name_the_key() -> None:
    import yaml

    from sinkprune.config import REPO_ROOT, ConfigError, validate_config
    from sinkprune.device import placement, resolve_device, resolve_dtype

    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert placement({}) == (torch.device("cpu"), torch.float32)
    assert resolve_dtype("bfloat16") == torch.bfloat16 and resolve_dtype(torch.float16) == torch.float16
    with pytest.raises(ValueError, match="'device'"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="'dtype'"):
        resolve_dtype("float8")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="config key 'device' is 'cuda'"):
            resolve_device("cuda")
    for name, device, dtype in (("mini", "cpu", "bfloat16"), ("paper", "cuda", "bfloat16")):
        config = yaml.safe_load((REPO_ROOT / "config" / f"{name}.yaml").read_text())
        assert (config["device"], config["dtype"]) == (device, dtype)
        with pytest.raises(ConfigError, match="device"):
            validate_config(config | {"device": "gpu"})
