"""Ring all-reduce, simulated in one process: what NCCL and gloo do for large tensors.

Each of W ranks cuts its tensor into W chunks.  Reduce-scatter: W - 1 steps in which
every rank sends one chunk to its right neighbour, who adds it to its own; afterwards
rank r holds the full sum of chunk (r + 1) mod W.  All-gather: W - 1 more steps that
pass the summed chunks around the ring.  Each rank sends 2 (W - 1) / W * M bytes for an
M-byte tensor: about 2M, nearly independent of W.  ``snapshots`` records, after each
step, how many ranks' contributions every chunk holds (for the chapter's figure).
"""

from __future__ import annotations

import torch


# --8<-- [start:ring]
def ring_all_reduce(
    tensors: list[torch.Tensor], snapshots: list[torch.Tensor] | None = None
) -> tuple[list[torch.Tensor], list[int]]:
    """Sum one 1-D tensor per rank as a ring does; count the bytes each rank sends.

    Args:
        tensors: rank r's tensor at index r; all the same shape.
        snapshots: if given, gets a (W, W) tensor after each step: entry [r, c] is
            how many ranks' values rank r's chunk c holds (the sum is done at W).
    """
    w = len(tensors)
    chunks = [list(t.clone().chunk(w)) for t in tensors]  # rank r: w chunks
    count = torch.ones(w, w, dtype=torch.long)  # (W, W): each holds its own value
    sent = [0] * w
    for phase in ("reduce-scatter", "all-gather"):
        for s in range(w - 1):
            # rank r sends one chunk to rank r + 1; all sends of a step happen at once
            shift = -s if phase == "reduce-scatter" else 1 - s
            msgs = [
                (r, (r + shift) % w, chunks[r][(r + shift) % w].clone())
                for r in range(w)
            ]
            new_count = count.clone()
            for r, c, data in msgs:
                dst = (r + 1) % w
                if phase == "reduce-scatter":
                    chunks[dst][c] += data
                    new_count[dst, c] = count[dst, c] + count[r, c]
                else:
                    chunks[dst][c] = data
                    new_count[dst, c] = count[r, c]
                sent[r] += data.numel() * data.element_size()
            count = new_count
            if snapshots is not None:
                snapshots.append(count.clone())
    return [torch.cat(c) for c in chunks], sent
    # --8<-- [end:ring]
