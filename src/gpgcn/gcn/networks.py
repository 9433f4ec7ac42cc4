"""The GCN regression models: a stack of graph convolutions with ReLU, and a linear head.

Graph inputs are the normalised adjacency (`normalised_adjacency`: self-loops included,
symmetric GCN normalisation), computed once per dataset, so every convolution runs with
`normalize=False`.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from .distributed import AllReduceSum


def normalised_adjacency(edge_index, edge_weight, n_nodes, self_loop_weight=1.0):
    """Â = D^-1/2 (A + wI) D^-1/2 as (edge_index, edge_weight), the GCN propagation matrix.

    A self-loop weight w above 1 keeps more of each accession's own genotype in every layer
    (w = 1 is Kipf and Welling's GCN).
    """
    loops = torch.arange(n_nodes, dtype=edge_index.dtype)
    edge_index = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    edge_weight = torch.cat([edge_weight, torch.full((n_nodes,), float(self_loop_weight), dtype=edge_weight.dtype)])
    return gcn_norm(edge_index, edge_weight, n_nodes, add_self_loops=False)


def propagation(edge_index, edge_weight, n_nodes, self_loop_weight):
    """The GCN's normalised adjacency from a graph's numpy edges."""
    return normalised_adjacency(
        torch.from_numpy(edge_index).long(), torch.from_numpy(edge_weight).float(), n_nodes, self_loop_weight
    )


class GCNStack(nn.Module):
    """`num_layers` graph convolutions, each followed by ReLU and dropout.

    `masks` ([num_layers, nodes, hidden], already scaled by 1/(1-p)) replaces dropout's own random
    draw, for callers that must draw every mask in a fixed order (forked branches).
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int, dropout: float):
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * num_layers
        self.convs = nn.ModuleList(GCNConv(a, b, normalize=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor, masks: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x, edge_index, edge_weight))
            if masks is None:
                x = F.dropout(x, p=self.dropout, training=self.training)
            else:
                x = x * masks[i]
        return x


class GCN(nn.Module):
    """The mission's model: a GCN stack over all SNPs and a linear regression head."""

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 3, dropout: float = 0.5):
        super().__init__()
        self.stack = GCNStack(in_channels, hidden_channels, num_layers, dropout)
        self.head = nn.Linear(hidden_channels, 1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(x, edge_index, edge_weight)).squeeze(-1)


class ChromosomeBranchGCN(nn.Module):
    """One GCN stack per chromosome over that chromosome's SNPs, joined at a linear head.

    With `parallel`, the scripted model forks the branches with `torch.jit.fork` so they run on
    the inter-op thread pool; without it, it is the sequential twin used as its baseline. Every
    branch's dropout masks are drawn before the fork, in branch order, so both give the same
    result for the same seed.
    """

    def __init__(
        self, chrom_sizes, hidden_channels: int = 64, num_layers: int = 3, dropout: float = 0.5, parallel: bool = False
    ):
        super().__init__()
        self.chrom_sizes = list(chrom_sizes)
        self.branches = nn.ModuleList(GCNStack(size, hidden_channels, num_layers, dropout) for size in chrom_sizes)
        self.head = nn.Linear(hidden_channels * len(self.chrom_sizes), 1)
        self.parallel = parallel
        self.mask_shape = [len(self.chrom_sizes), num_layers, hidden_channels]
        self.dropout = dropout

    def dropout_masks(self, n_nodes: int, like: torch.Tensor) -> torch.Tensor:
        """[branches, layers, nodes, hidden]: kept units scaled by 1/(1-p); all ones in evaluation."""
        shape = [self.mask_shape[0], self.mask_shape[1], n_nodes, self.mask_shape[2]]
        masks = torch.ones(shape, dtype=like.dtype, device=like.device)
        if self.training and self.dropout > 0:
            keep = 1.0 - self.dropout
            masks = masks.bernoulli_(keep) / keep
        return masks

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        blocks = torch.split(x, self.chrom_sizes, dim=1)
        masks = self.dropout_masks(x.shape[0], x)
        outputs: list[torch.Tensor] = []
        if self.parallel:
            futures: list[torch.jit.Future[torch.Tensor]] = []
            for i, branch in enumerate(self.branches):
                futures.append(torch.jit.fork(branch, blocks[i], edge_index, edge_weight, masks[i]))
            for future in futures:
                outputs.append(torch.jit.wait(future))
        else:
            for i, branch in enumerate(self.branches):
                outputs.append(branch(blocks[i], edge_index, edge_weight, masks[i]))
        return self.head(torch.cat(outputs, dim=1)).squeeze(-1)


class SNPShardConv(nn.Module):
    """The first graph convolution with its weight split by SNP columns across processes.

    Each rank multiplies its block of the genotypes by its block of the weight and propagates
    it over the graph; the partial results are summed over ranks (Â X W = Σ_r Â X_r W_r) and the
    bias, replicated on every rank, is added once.
    """

    def __init__(self, conv: GCNConv, columns: range):
        super().__init__()
        # Leave the global RNG where serial's model left it, so dropout masks stay the same.
        with torch.random.fork_rng(devices=[]):
            self.conv = GCNConv(len(columns), conv.out_channels, normalize=False, bias=False)
        with torch.no_grad():
            self.conv.lin.weight.copy_(conv.lin.weight[:, columns.start : columns.stop])
        self.bias = nn.Parameter(conv.bias.detach().clone())

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return AllReduceSum.apply(self.conv(x, edge_index, edge_weight)) + self.bias

    def sharded_parameters(self):
        return [self.conv.lin.weight]


class NodeShare(nn.Module):
    """What DataParallel replicates: the GCN over the whole graph, returning only the predictions
    for the node indices scattered to this replica. Each GPU keeps its own copy of the graph
    inputs (looked up by device), so only the indices and parameters travel each step."""

    def __init__(self, gcn, inputs_by_device):
        super().__init__()
        self.gcn = gcn
        self.inputs_by_device = inputs_by_device

    def forward(self, nodes):
        x, edge_index, edge_weight = self.inputs_by_device[nodes.device]
        return self.gcn(x, edge_index, edge_weight)[nodes]
