"""The lm-eval model ``sinkprune``: any ``SinkModel`` checkpoint under the harness.

    lm_eval --model sinkprune --model_args pretrained=DIR,mc_num=8,batch_size=32,seed=0,dtype=bfloat16 \
        --device cuda ...

The harness does prompting, few-shot formatting, scoring and metrics; this class only answers
its three request types:
- ``loglikelihood``: exact for causal families, the LLaDA Monte Carlo estimate for
  masked-diffusion families (``sinkprune.evaluate.likelihood``);
- ``loglikelihood_rolling`` (perplexity): lm-eval's rolling windows, each scored the same way;
- ``generate_until``: the family's sampler ``sinkprune.models.sampling.generate``
  (``gen_length`` tokens in ``steps`` denoising steps, blocks of ``block_length``), cut at the
  first stop string.

``protocol`` (config key) selects how sequences are built and answers cut:
- ``corrected``: every sequence starts with BOS, as in training (LLaDA and Dream also put BOS
  first); the sampler never commits [MASK]; an answer ends at its first EOS/PAD/[MASK].
- ``released``: as the Sink-Aware-Pruning release's harness (LLaDA ``eval_llada.py``): the
  tokenizer's own special tokens only (BOS only where its settings add one); the sampler may
  commit [MASK]; the answer is decoded with special tokens, cut at stop strings, re-encoded and
  decoded without them, so text after an EOS is kept. The masked-count draw follows
  ``sinkprune.evaluate.likelihood`` (strata of ``min(batch_size, mc_num)`` rows).
Per task (keys: the leaf task names lm-eval puts on each request): ``task_cfg`` (LLaDA's
classifier-free guidance weight in the Monte-Carlo log-likelihood) and ``task_mc_num``.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from sinkprune.evaluate.likelihood import PROTOCOLS, ar_loglikelihoods, dlm_loglikelihoods


def _as_bool(value: bool | str) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


@register_model("sinkprune")
class SinkpruneLM(TemplateLM):
    """lm-eval ``LM`` over a sinkprune checkpoint directory (``pretrained=DIR``)."""

    backend = "causal"  # lm-eval: encode context+continuation together, then split

    def __init__(self, pretrained: str, mc_num: int = 8, batch_size: int | str = 32, seed: int = 0,
                 gen_length: int = 8, steps: int = 8, block_length: int = 8, max_length: int | None = None,
                 enumerate_small: bool | str = True, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, max_batch_size: int | None = None,
                 protocol: str = "corrected", task_cfg: dict[str, float] | None = None,
                 task_mc_num: dict[str, int] | None = None) -> None:
        # No **kwargs: a misspelt model_arg (mc_nun=4) must fail, not be ignored. max_batch_size
        # is accepted because lm-eval passes it to every model; batches here are fixed-size.
        # device / dtype: config keys ``device`` / ``dtype`` (default cpu, float32).
        super().__init__()
        from sinkprune.data.tokenizer import load_tokenizer
        from sinkprune.device import resolve_device, resolve_dtype
        from sinkprune.models import load_model

        self._device = resolve_device(device)  # LM.device is a read-only property
        self.model = load_model(str(pretrained), device=self._device, dtype=resolve_dtype(dtype))
        self.model.eval()
        # The checkpoint's own tokenizer, without remote code (Dream's is built from its BPE files).
        self.tokenizer = load_tokenizer(self.model.source_dir)
        self.mc_num = int(mc_num)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.gen_length, self.steps, self.block_length = int(gen_length), int(steps), int(block_length)
        self.max_length = int(max_length or self.model.max_seq_len)
        self.enumerate_small = _as_bool(enumerate_small)
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol = protocol
        self.task_cfg = {str(k): float(v) for k, v in (task_cfg or {}).items()}
        self.task_mc_num = {str(k): int(v) for k, v in (task_mc_num or {}).items()}
        self._request_tasks: list[str | None] | None = None  # task of each loglikelihood request
        if self.mc_num <= 0 or self.batch_size <= 0:
            raise ValueError(f"mc_num and batch_size must be positive, got {self.mc_num}, {self.batch_size}")

    # ----- tokenisation ------------------------------------------------------------------------
    @property
    def eot_token_id(self) -> int:
        return self.model.eos_id

    @property
    def prefix_token_id(self) -> int:
        # An empty context conditions on BOS, as every training sequence; without one (Qwen2.5) on
        # EOS, as lm-eval's HF model does.
        return self.model.bos_id if self.model.bos_id is not None else self.model.eos_id

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        if self.protocol == "released":
            # The release's harness calls tokenizer(text): special tokens as the tokenizer says.
            special = True if add_special_tokens is None else add_special_tokens
            return self.tokenizer(string, add_special_tokens=special)["input_ids"]
        # Corrected: BOS is added by _with_bos, once, whatever the tokenizer's own settings.
        return self.tokenizer(string, add_special_tokens=False)["input_ids"]

    def tok_decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _with_bos(self, context: list[int], continuation: list[int]) -> tuple[list[int], int]:
        """BOS-first ``context + continuation`` left-truncated to ``max_length``, and the context length.

        Under ``released`` the tokens are kept as encoded (no BOS added), left-truncated the same
        way (the release asserts the length instead).
        """
        if self.protocol == "released":
            if len(continuation) > self.max_length:
                raise ValueError(f"continuation of {len(continuation)} tokens exceeds max_length {self.max_length}")
            keep = self.max_length - len(continuation)
            context = context[len(context) - keep:] if len(context) > keep else context
            return [*context, *continuation], len(context)
        bos = self._bos()
        if len(continuation) > self.max_length - len(bos):
            raise ValueError(f"continuation of {len(continuation)} tokens exceeds max_length {self.max_length} − {len(bos)}")
        if bos and context and context[0] == bos[0]:
            context = context[1:]
        keep = self.max_length - len(bos) - len(continuation)
        context = context[len(context) - keep:] if len(context) > keep else context
        return [*bos, *context, *continuation], len(bos) + len(context)

    def _bos(self) -> list[int]:
        """``[bos]``, or ``[]`` for a model without BOS (the family's rule, special_tokens.py)."""
        return [] if self.model.bos_id is None else [self.model.bos_id]

    # ----- requests ----------------------------------------------------------------------------
    def _score(self, pairs: list[tuple[list[int], list[int]]],
               tasks: list[str | None] | None = None) -> list[tuple[float, bool]]:
        sequences, ctx_lens = zip(*(self._with_bos(c, t) for c, t in pairs)) if pairs else ((), ())
        if self.model.is_causal:
            return ar_loglikelihoods(self.model, list(sequences), list(ctx_lens), self.batch_size)
        tasks = tasks if tasks is not None else [None] * len(pairs)
        mc_nums = [self.task_mc_num.get(t, self.mc_num) for t in tasks]
        cfgs = [self.task_cfg.get(t, 0.0) for t in tasks]
        # LLaDA's harness reports is_greedy=False unless asked to check greedily; no metric here uses it.
        scores = dlm_loglikelihoods(self.model, list(sequences), list(ctx_lens), mc_nums, self.batch_size,
                                    self.seed, self.enumerate_small, cfg=cfgs, protocol=self.protocol)
        return [(s, False) for s in scores]

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """lm-eval's tokenisation, remembering each request's task for its cfg and mc_num."""
        self._request_tasks = [getattr(request, "task_name", None) for request in requests]
        try:
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)
        finally:
            self._request_tasks = None

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs) -> list[tuple[float, bool]]:
        tasks = self._request_tasks if self._request_tasks and len(self._request_tasks) == len(requests) else None
        return self._score([(ctx, cont) for _, ctx, cont in requests], tasks)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        """Perplexity: disjoint rolling windows (one slot kept for BOS), scores summed per document."""
        pairs, owner = [], []
        for r, request in enumerate(requests):
            (text,) = request.args
            windows = get_rolling_token_windows(token_list=self.tok_encode(text), prefix_token=self.prefix_token_id,
                                                max_seq_len=self.max_length - 1, context_len=1)
            for ctx, cont in map(make_disjoint_window, windows):
                pairs.append((ctx, cont))
                owner.append(r)
        totals = [0.0] * len(requests)
        for r, (score, _) in zip(owner, self._score(pairs)):
            totals[r] += score
        return totals

    @torch.no_grad()
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Family sampler, ``gen_length`` new tokens, batched by prompt length, cut at stop strings."""
        from sinkprune.models.sampling import generate

        released = self.protocol == "released"
        prompts, stops = [], []
        for request in requests:
            context, gen_kwargs = request.args
            if self.task_cfg.get(getattr(request, "task_name", None), 0.0) > 0:
                raise ValueError(f"task {request.task_name}: classifier-free guidance in generation is not "
                                 "implemented (eval.cfg applies to log-likelihood tasks)")
            until = gen_kwargs.get("until") or []
            stops.append([until] if isinstance(until, str) else list(until))
            ids = self.tok_encode(context)
            bos = [] if released else self._bos()
            keep = self.max_length - len(bos) - self.gen_length
            prompts.append([*bos, *ids[max(0, len(ids) - keep):]])
        by_len: dict[int, list[int]] = defaultdict(list)
        for r, ids in enumerate(prompts):
            by_len[len(ids)].append(r)  # no padding: it would change a bidirectional model's output
        out = [""] * len(requests)
        specials = {self.model.eos_id, self.model.pad_id, self.model.mask_id} - {None}
        for length in sorted(by_len):
            for start in range(0, len(by_len[length]), self.batch_size):
                chunk = by_len[length][start:start + self.batch_size]
                batch = torch.tensor([prompts[r] for r in chunk], dtype=torch.long, device=self._device)
                result = generate(self.model, batch, gen_length=self.gen_length, steps=self.steps,
                                  block_length=self.block_length, allow_mask=released).cpu()
                for i, r in enumerate(chunk):
                    new = result[i, length:].tolist()
                    out[r] = self._released_answer(new, stops[r]) if released else self._answer(new, stops[r], specials)
        return out

    def _answer(self, new: list[int], stops: list[str], specials: set[int]) -> str:
        """Corrected: the text before the first special token, cut at the first stop string."""
        cut = next((j for j, t in enumerate(new) if t in specials), len(new))
        text = self.tok_decode(new[:cut])
        for stop in stops:
            text = text.split(stop)[0] if stop else text
        return text

    def _released_answer(self, new: list[int], stops: list[str]) -> str:
        """Released (LLaDA ``generate_until``): decode with special tokens, cut at stop strings,
        re-encode and decode without them; text after an EOS or a left [MASK] is kept."""
        text = self.tokenizer.decode(new, skip_special_tokens=False)
        for stop in stops:
            if stop and stop in text:
                text = text.split(stop)[0]
        return self.tokenizer.decode(self.tokenizer(text)["input_ids"], skip_special_tokens=True)

    def get_model_info(self) -> dict:
        """What lm-eval records about the model (stable: no paths, no times)."""
        return {"family": self.model.family, "is_causal": self.model.is_causal, "mc_num": self.mc_num,
                "gen_length": self.gen_length, "steps": self.steps, "block_length": self.block_length,
                "max_length": self.max_length, "enumerate_small": self.enumerate_small, "protocol": self.protocol,
                "task_cfg": dict(sorted(self.task_cfg.items())),
                "task_mc_num": dict(sorted(self.task_mc_num.items()))}
