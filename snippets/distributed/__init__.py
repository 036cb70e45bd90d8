"""Distributed training with ``torch.distributed`` and ``torchrun``, step by step.

``single.py`` (one process, the reference) -> ``ddp.py`` (data parallel) -> ``fsdp.py``
(sharded with FSDP2's ``fully_shard``).  ``common.py`` holds what the three share: the
tiny model, the data, the process-group setup and teardown, and atomic saving.
"""
