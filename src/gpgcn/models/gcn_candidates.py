"""The GCN's candidate settings: each a change to the configured `train:` and `graph:` settings
and to the node features, with the training problem it trains on (features built once per kind
and scaling, the kNN graph once per k)."""

import dataclasses

from ..data.graph import relationship_graph
from ..errors import InputError
from ..gcn.training import TrainSettings

# What a candidate may change: graph settings, training settings and its node features.
GRAPH_KEYS = ("k", "self_loop_weight")
TRAIN_KEYS = ("lr", "weight_decay", "features", "dropout")
FEATURE_KEYS = ("node_features",)


@dataclasses.dataclass
class Candidate:
    change: dict  # the keys it changes from the configured settings
    settings: TrainSettings
    k: int
    self_loop_weight: float
    node_features: str  # kinship: GRM rows; genotypes: SNP dosages

    @property
    def name(self):
        return ", ".join(f"{key}={value}" for key, value in self.change.items()) or "as configured"


def candidates(train, graph, changes, node_features="kinship"):
    """One Candidate per change (a dict of GRAPH_KEYS, TRAIN_KEYS and FEATURE_KEYS) to the
    configured settings."""
    found = []
    for change in changes or [{}]:
        unknown = sorted(set(change) - set(GRAPH_KEYS) - set(TRAIN_KEYS) - set(FEATURE_KEYS))
        if unknown:
            raise ValueError(f"select.candidates: unknown key {', '.join(unknown)}")
        settings = TrainSettings(**{**train, **{k: v for k, v in change.items() if k in TRAIN_KEYS}})
        found.append(
            Candidate(
                dict(change),
                settings,
                change.get("k", graph["k"]),
                change.get("self_loop_weight", graph["self_loop_weight"]),
                change.get("node_features", node_features),
            )
        )
    return found


class CandidateProblems:
    """The training problem of each candidate: features built once per kind and scaling (by the
    job's `inputs.TraitInputs`), the kNN graph of the relationship matrix once per k (by the graph rule's
    own function).

    `snp_feature_limit`: a candidate whose own change asks for SNP features is tried only where
    the SNPs number at most this many per training accession, so its first layer costs at most
    that many times a GRM-row candidate's."""

    def __init__(self, inputs, snp_feature_limit):
        self.inputs, self.snp_feature_limit = inputs, snp_feature_limit
        self.n_train = int(inputs.split["set"].eq("train").sum())
        self.graphs = {}

    def skip_reason(self, candidate):
        """Why a candidate is not tried here, or None."""
        if candidate.change.get("node_features") != "genotypes":
            return None
        if not self.inputs.matrix_paths:
            return "SNP features need genotypes"
        n_snps = self.inputs.n_snps
        if n_snps > self.snp_feature_limit * self.n_train:
            return (
                f"{n_snps} SNPs are more than select.snp_feature_limit ({self.snp_feature_limit:g}) "
                f"x {self.n_train} training accessions"
            )
        return None

    def problem(self, candidate):
        settings = candidate.settings
        problem = self.inputs.problem(
            candidate.node_features == "genotypes", settings.features, settings.first_layer_variance
        )
        relationships = self.inputs.relationships
        rows = relationships[1]
        if candidate.k not in self.graphs:
            self.graphs[candidate.k] = relationship_graph(*relationships, candidate.k)
        if problem.ids != rows:
            raise InputError(self.inputs.grm_path, "accession order differs from the node features'")
        return problem.with_graph(*self.graphs[candidate.k], candidate.self_loop_weight)
