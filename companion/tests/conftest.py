import torch

# Two cores on the project's machines: one thread keeps runs repeatable and avoids
# oversubscription when pytest and a build run side by side.
torch.set_num_threads(1)
