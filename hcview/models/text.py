"""A deterministic hashing word tokenizer for MedFusionNet's optional text input (report snippets,
clinical notes). No vocabulary file, no download: words hash into ``vocab_size - 1`` buckets, 0 is padding."""
from __future__ import annotations

import re
import zlib

import torch

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(texts: list[str] | str, vocab_size: int = 4096, max_len: int = 64) -> torch.Tensor:
    if isinstance(texts, str):
        texts = [texts]
    out = torch.zeros(len(texts), max_len, dtype=torch.long)
    for i, t in enumerate(texts):
        words = _WORD.findall((t or "").lower())[:max_len]
        for j, w in enumerate(words):
            out[i, j] = 1 + zlib.crc32(w.encode()) % (vocab_size - 1)
    return out
