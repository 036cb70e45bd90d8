"""Distributed training with ``torch.distributed`` and ``torchrun``, step by step.

``single.py`` (one process, the reference) -> ``ddp.py`` (data parallel) -> ``fsdp.py``
(sharded with FSDP2's ``fully_shard``).  ``config.py`` holds ``DistConfig`` (the
settings, named as in ``snippets.train.TrainConfig``); ``common.py`` what the three
scripts share: the data and model (``snippets.data``, ``snippets.models.cnn``), the
process-group setup and teardown, the sampler and the resume rules; ``launch.py`` is
``torchrun`` that ends with the failing rank's own message.
"""
