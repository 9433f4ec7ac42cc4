"""Many GCNs that share a graph and node features, trained as one batched model.

A trait's model job fits hundreds of small GCNs that differ only in their target (each member's
own standardisation and fixed effects) and in the accessions they learn from and stop on. Trained
one after another, each pays for its own small products; `BatchedGCN` stacks their weights on a
member dimension so each layer is one product for all of them: the genotypes (or GRM rows) times
every member's first weight in one matrix product, one sparse propagation over the graph of all
members' channels side by side, and batched products for the later layers and the heads. Members
stay independent: a member's predictions and gradients depend on its own weights alone, Adam acts
element by element, and each keeps its own early stopping. A member that stops keeps its best
state and leaves the batch (`BatchedGCN.keep`), so stopped members cost nothing.

Mechanism: stacked weights with one dense product for the first layer, one sparse product of the
normalised adjacency with every member's channels, and batched matmuls (`bmm`) for the later layers
and the heads, rather than `torch.func.stack_module_state` + `vmap` over PyTorch Geometric's
GCNConv: vmap would run the propagation and its per-edge message copy once per member, where here
one sparse product serves every member, and the first layer, the dominant cost (accessions ×
features × members × hidden), is one large product instead of B small ones. That product is taken
twice per epoch, not three times: the features are propagated over the graph once per fit
((Â·X)·W = Â·(X·W)), and the product the evaluation takes at the new weights is the one the next
training step needs (`KnownProduct`), so only the weight's gradient costs a second one. Through
the features' factor the weight's projection Vᵀ·W, a product as large, is likewise taken once per
epoch for the evaluation and once for the gradient, not again in the training step. The later
layers' `bmm` reads the activations as they lie, nodes first, through a strided view of their
members' dimension, where `einsum` first copied them members first.

`train.first_layer_precision: bfloat16` holds the propagated features in bfloat16 and takes both
of those products in it (float32 sums, a float32 result), the rest in float32: on CPUs with
AVX512-BF16 the products run some twice as fast, and the predictions move as a small perturbation
of training would move them, not by rounding alone (docs/benchmarks/precision.md).
`train.first_layer_variance` takes that product through a low-rank factor of the features
(`first_layer.factored`), where that costs less.

Every member starts from the weights the configured seed gives one GCN, and dropout draws one
mask per layer and epoch shared by all members: the same draws, in the same order, that each
sequential member makes from the same seed, so batched and sequential training give the same
predictions up to float rounding (`strategies.PREDICTION_TOLERANCE`). Two members whose losses
are the same function of the weights therefore take the same steps; in a trait's CV they come in
pairs (outer fold f's member stopped on inner fold g learns from all but f and g, as g's member
stopped on f does), and each pair trains as one trajectory of the batch, each member keeping its
own early stopping on it (`targets.trajectory`): a repeat of k folds trains its k (k − 1) members
on half as many trajectories where its outer folds share a job.
"""

import logging
import time

import torch
import torch.nn.functional as F
from torch import nn

from .first_layer import PRECISIONS, KnownProduct, product
from .targets import Targets, trajectory
from .training import PROGRESS_EVERY_S, EarlyStopping, ensemble_result, member_problem

log = logging.getLogger(__name__)


def adjacency(problem):
    """The graph's normalised adjacency Â as a sparse matrix (rows: the nodes messages go to): one
    sparse product then propagates every member's channels at once, without the per-edge copy of
    every channel a message-passing layer makes."""
    n, (source, target) = len(problem.ids), problem.edge_index
    return torch.sparse_coo_tensor(
        torch.stack([target, source]), problem.edge_weight, (n, n), check_invariants=True
    ).coalesce()


class BatchedGCN(nn.Module):
    """`n_members` copies of one `networks.GCN` (its weights as each copy's start), trained as one
    model; forward returns [members, nodes]. `basis`: the features' `Problem.feature_basis`, the
    first layer's product taken through it (`first_layer.factored`)."""

    def __init__(self, gcn, n_members, basis=None):
        super().__init__()
        convs = gcn.stack.convs

        def stacked(tensor, dim=0):
            return nn.Parameter(torch.stack([tensor.detach()] * n_members, dim=dim))

        self.first = stacked(convs[0].lin.weight.T, dim=1)  # [features, members, hidden]
        self.weights = nn.ParameterList(stacked(conv.lin.weight.T) for conv in convs[1:])  # [members, hidden, hidden]
        self.biases = nn.ParameterList(stacked(conv.bias) for conv in convs)  # [members, hidden]
        self.head_weight = stacked(gcn.head.weight[0])  # [members, hidden]
        self.head_bias = stacked(gcn.head.bias[0])  # [members]
        self.dropout = gcn.stack.dropout
        self.register_buffer("basis_t", None if basis is None else basis.T.contiguous())

    def member_parameters(self):
        """Every parameter with the dimension that indexes its members."""
        return [(self.first, 1), *((p, 0) for p in (*self.weights, *self.biases, self.head_weight, self.head_bias))]

    def first_product(self, features):
        """The first layer's product for every member, [nodes, members × hidden], in float32 from
        features in their own precision (`first_layer_precision`)."""
        return product(features, self.first_weight())

    def first_weight(self):
        """Every member's first weight side by side, [features, members × hidden]; through the
        features' factor, [components, members × hidden]."""
        n_features, members, hidden = self.first.shape
        weight = self.first.reshape(n_features, members * hidden)
        return weight if self.basis_t is None else self.basis_t @ weight

    def forward(self, features, adjacency, first=None):
        """`features`: the node features propagated over the graph once (Â·X: the first layer's
        propagation then costs nothing per epoch, Â·(X·W) = (Â·X)·W); `first`: `first_product` at
        the current weights where it is known (the last evaluation computed it and no step has
        been taken since), so the training step computes neither it nor the weight through the
        factor again."""
        n, (_, members, hidden) = features.shape[0], self.first.shape
        if first is None:
            z = product(features, self.first_weight())
        else:
            z = KnownProduct.apply(features, self.basis_t, self.first.reshape(-1, members * hidden), first)
        for layer, bias in enumerate(self.biases):
            if layer:
                by_member = torch.bmm(z.transpose(0, 1), self.weights[layer - 1])  # [members, nodes, hidden]
                z = by_member.transpose(0, 1).reshape(n, members * hidden)
                z = torch.sparse.mm(adjacency, z)
            z = F.relu(z.view(n, members, hidden) + bias)
            if self.training and self.dropout > 0:
                # The mask one sequential member draws for its [nodes, hidden] activations.
                mask = F.dropout(torch.ones(n, hidden, dtype=z.dtype, device=z.device), p=self.dropout)
                z = z * mask[:, None, :]
        return torch.bmm(z.transpose(0, 1), self.head_weight[:, :, None])[..., 0] + self.head_bias[:, None]

    def keep(self, members, optimizer, first):
        """Only `members` (indices into the batch) stay, with their Adam state; the others stop
        changing and cost nothing more. Returns `first` (a `first_product`) of those staying."""
        index = torch.as_tensor(members, dtype=torch.long, device=self.head_bias.device)
        _, n_members, hidden = self.first.shape
        for parameter, dim in self.member_parameters():
            state = optimizer.state.pop(parameter, {})
            parameter.data = parameter.data.index_select(dim, index)
            parameter.grad = None
            optimizer.state[parameter] = {
                key: value.index_select(dim, index) if torch.is_tensor(value) and value.dim() > 0 else value
                for key, value in state.items()
            }
        return first.view(len(first), n_members, hidden).index_select(1, index).reshape(len(first), -1)


def fit_members(gcn, problems, folds, settings, label="training"):
    """Train one batched member per (problem, validation fold), all sharing `problems[0]`'s
    features and graph, each on its own target; returns each one's (EarlyStopping, records), as
    `training.fit` returns them. `gcn`: the network every member starts from. Members whose losses
    are one function of the weights (`trajectory`: outer fold f's member stopped on inner fold g
    and g's stopped on f learn from the same accessions) share one trajectory, each stopping on its
    own fold: from the same start and dropout draws, trained apart, they would take the same steps.
    A member whose loss stops being finite leaves the batch with a logged reason (its best state
    kept), the others go on; the batch ends when every member has stopped."""
    target = Targets(problems, folds)
    slot_of, leaders = target.trajectories()
    model = BatchedGCN(gcn, len(leaders), problems[0].feature_basis).to(problems[0].x.device)
    graph = adjacency(problems[0])
    features, first = torch.sparse.mm(graph, problems[0].x).to(PRECISIONS[settings.first_layer_precision]), None
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=True)
    stoppings = [EarlyStopping(settings.patience_for(len(val)), settings.prediction_window) for _, val in target.nodes]
    records = [[] for _ in problems]
    active, slots, shown = list(range(len(problems))), list(range(len(leaders))), time.monotonic()
    for epoch in range(settings.max_epochs):
        start = time.perf_counter()
        lost = train_step(model, features, graph, first, target, [leaders[s] for s in slots], optimizer)
        diverged = [m for m in active if leaders[slot_of[m]] in lost]
        model.eval()
        with torch.no_grad():
            first = model.first_product(features)
            pred = model(features, graph, first).cpu().numpy()
        row = {slot: r for r, slot in enumerate(slots)}
        pred = pred[[row[slot_of[m]] for m in active]]  # each active member's trajectory
        seconds = (time.perf_counter() - start) / len(active)  # each member's share of the epoch
        summaries = zip(*target.summaries(pred, active))
        for r, (member, (train_loss, val_r)) in enumerate(zip(active, summaries)):
            if member not in diverged:
                records[member].append(
                    target.record(member, epoch, pred[r], stoppings[member], seconds, train_loss, val_r)
                )
        for member in diverged:
            stoppings[member].diverged()
            log.warning("%s: member %d stopped at epoch %d: its loss is not finite", label, member + 1, epoch)
        if time.monotonic() - shown >= PROGRESS_EVERY_S:
            shown = time.monotonic()
            log.info("%s: epoch %d, %d of %d members still training", label, epoch + 1, len(active), len(problems))
        active = [m for m in active if m not in diverged and not stoppings[m].done]
        training = {slot_of[m] for m in active}
        if len(training) < len(slots):
            first = model.keep([row[s] for s in slots if s in training], optimizer, first)
            slots = [s for s in slots if s in training]
        if not active:
            break
    return list(zip(stoppings, records))


def train_step(model, features, graph, first, target, active, optimizer):
    """One Adam step of every active member on its own loss; returns the members whose loss is
    not finite (no step reaches them: a member's gradients come from its own loss alone)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    losses = target.losses(model(features, graph, first), active)
    finite = torch.isfinite(losses)
    losses[finite].sum().backward()
    optimizer.step()
    return [member for member, ok in zip(active, finite.tolist()) if not ok]


def fit_ensemble_batched(build_model, problem, settings, label="training", offsets=None):
    """`training.fit_ensemble` with its members trained as batched models."""
    return fit_ensembles_batched(build_model, [(problem, offsets)], settings, label)[0]


def fit_ensembles_batched(build_model, ensembles, settings, label="training"):
    """Several fold ensembles [(problem, offsets)] over the same features and graph (an outer CV
    fold's each), every member of every one trained in shared batched models: as many in one as
    `members_per_batch` allows, a batch over that bound split, never truncated. `build_model()`
    gives the network every member starts from (seeded: each batch starts as the first)."""
    members = [
        (e, fold, member_problem(problem, fold, offsets))
        for e, (problem, offsets) in enumerate(ensembles)
        for fold in settings.validation_folds(problem)
    ]
    # Batches of trajectories: the members that share one (`fit_members`) in the same batch.
    shared = {}
    for index, (_, fold, own) in enumerate(members):
        shared.setdefault(trajectory(own, fold), []).append(index)
    groups, size, fitted = list(shared.values()), members_per_batch(ensembles[0][0], settings), [None] * len(members)
    log.info("%s: %d members on %d trajectories, up to %d a batch", label, len(members), len(groups), size)
    for start in range(0, len(groups), size):
        batch = [index for group in groups[start : start + size] for index in group]
        own = fit_members(
            build_model(), [members[i][2] for i in batch], [members[i][1] for i in batch], settings, label
        )
        for index, fit in zip(batch, own):
            fitted[index] = fit
    results = []
    for e, (problem, offsets) in enumerate(ensembles):
        own = [(fold, problem_, *fit) for (m, fold, problem_), fit in zip(members, fitted) if m == e]
        results.append(ensemble_result(problem, own, offsets))
    return results


# The most a batch's members may hold together. Fixed, not the memory free at the time: the batches,
# and with them the float rounding of every member's fit, are then the same on every machine.
BATCH_BYTES = 2 * 1024**3


def member_bytes(problem, settings):
    """What one member of a batch holds: its first weight with its gradient and Adam's two
    moments (features × hidden × 4 floats), the same for the later layers, and its activations
    kept for the backward pass (about 4 nodes × hidden floats per layer)."""
    n, features = len(problem.ids), problem.n_snps  # the first weight's rows, through a factor or not
    hidden, layers = settings.hidden, settings.layers
    weights = (features + (layers - 1) * hidden + layers + 1) * hidden
    return 4 * (4 * weights + 4 * n * hidden * layers)


def members_per_batch(problem, settings):
    """`train.batch_members`, or fewer where that many would hold more than BATCH_BYTES; at least
    one."""
    return max(1, min(settings.batch_members, BATCH_BYTES // member_bytes(problem, settings)))
