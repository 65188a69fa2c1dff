"""The minibatch training loop that the companion's models share.

`vaeriants.vae.train_vae` keeps its own copy of this loop because chapter 4 prints that file
whole as a self-contained listing; every other model trains through `fit_by_minibatches`.
"""
import torch


def fit_by_minibatches(model, data, cfg, seed):
    """Adam on `model.loss` over shuffled minibatches of `data` (N, data_dim).

    Uses cfg.epochs, cfg.batch_size and cfg.learning_rate; the shuffling generator is seeded
    with `seed`. Returns the per-epoch average loss. Seed torch before building the model, so
    that its initial weights are reproducible too.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(cfg.epochs):
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for start in range(0, len(data), cfg.batch_size):
            batch = data[order[start:start + cfg.batch_size]]  # (B, data_dim)
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(data))
    return losses
