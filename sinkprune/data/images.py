"""Discrete image tokens for the MMaDA stand-in: scikit-learn's bundled 8×8 digits.

MMaDA models text and images as one token sequence over a joint vocabulary (text + image
codebook). The mini stand-in quantises each 8×8 digit (intensities 0–16) to a small codebook
of ``image_tokens`` intensity levels and renders one image per line as
``image of 7: <|img_a|><|img_b|>…`` (64 image tokens), so captions and pixels share a sequence.
The digits ship inside scikit-learn: nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

from sinkprune.data.tokenizer import image_token


def quantise(images: np.ndarray, levels: int) -> np.ndarray:
    """Map intensities 0..16 to codebook entries 0..levels-1 (uniform bins), shape preserved."""
    if levels < 2:
        raise ValueError(f"data.tokenizer.image_tokens must be >= 2 for image data, got {levels}")
    return np.minimum((images.astype(np.float64) / 17.0 * levels).astype(np.int64), levels - 1)


def image_lines(n: int, levels: int, seed: int) -> list[str]:
    """``n`` captioned digit images as text lines (drawn with replacement, seeded)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    codes = quantise(digits.data, levels)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(codes), size=n)
    return [f"image of {digits.target[i]}: " + "".join(image_token(int(c)) for c in codes[i]) for i in picks]
