"""netray plugin for TorchScript archives (``torch.jit.save``): the inlined forward graph with its module hierarchy."""
