import numpy as np
import pytest

from gpgcn.data.covariates import FixedEffects
from gpgcn.models.gblup import Tridiagonal, _Eigen, _TridiagonalReml, decompose, fit_gblup, tridiagonalise


def dense_reml_loglik(kinship, y, x, delta):
    """REML log-likelihood with σg² profiled out, by plain dense linear algebra."""
    n, q = x.shape
    h = kinship + delta * np.eye(n)
    hinv = np.linalg.inv(h)
    xhx = x.T @ hinv @ x
    p = hinv - hinv @ x @ np.linalg.inv(xhx) @ x.T @ hinv
    ypy = y @ p @ y
    dof = n - q
    return -0.5 * (dof * np.log(ypy / dof) + dof + np.linalg.slogdet(h)[1] + np.linalg.slogdet(xhx)[1])


def simulated(n, delta, seed=0, p=2000):
    rng = np.random.default_rng(seed)
    m = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    z = m - m.mean(axis=0)
    kinship = z @ z.T / np.sum(2 * 0.3 * 0.7)
    kinship /= np.mean(np.diag(kinship))
    g = np.linalg.cholesky(kinship + 1e-8 * np.eye(n)) @ rng.normal(size=n)
    y = 3.0 + g + np.sqrt(delta) * rng.normal(size=n)
    return kinship, y


@pytest.mark.parametrize(
    "reml", [lambda k, y, x: _Eigen(decompose(k), y, x), lambda k, y, x: _TridiagonalReml(tridiagonalise(k), y, x)]
)
def test_reml_loglik_matches_dense_formula(reml):
    """Through the eigenbasis and through the tridiagonal reduction alike."""
    kinship, y = simulated(60, 1.0)
    x = np.column_stack([np.ones(60), np.linspace(-1, 1, 60)])
    deltas = [0.05, 0.7, 3.0, 40.0]  # in one call, as a fit's grid takes them
    expected = [dense_reml_loglik(kinship, y, x, delta) for delta in deltas]
    assert reml(kinship, y, x).loglik(deltas) == pytest.approx(expected, rel=1e-8)


def test_a_fit_through_the_tridiagonal_reduction_is_the_eigenbasis_fit():
    """Same variance ratio, fixed effects, BLUP weights and likelihood; a kernel that is not
    positive semi-definite is decomposed instead (its negative eigenvalues clipped, as every
    eigenbasis fit clips them)."""
    kinship, y = simulated(120, 0.8, seed=4)
    x = np.column_stack([np.ones(120), np.linspace(-1, 1, 120)])
    reduced = tridiagonalise(kinship)
    assert isinstance(reduced, Tridiagonal)
    by_eigen, by_reduction = fit_gblup(None, y, x, decompose(kinship)), fit_gblup(None, y, x, reduced)
    assert by_reduction.delta == pytest.approx(by_eigen.delta, rel=1e-7)
    assert by_reduction.loglik == pytest.approx(by_eigen.loglik, rel=1e-10)
    np.testing.assert_allclose(by_reduction.beta, by_eigen.beta, rtol=1e-7)
    np.testing.assert_allclose(by_reduction.alpha, by_eigen.alpha, rtol=1e-6, atol=1e-9)
    s, u = decompose(kinship)
    indefinite = kinship - 0.5 * s.max() * np.outer(u[:, 0], u[:, 0])
    assert np.linalg.eigvalsh(indefinite).min() < -0.1
    assert not isinstance(tridiagonalise(indefinite), Tridiagonal)


@pytest.mark.parametrize("true_delta", [0.5, 2.0])
def test_reml_recovers_a_known_variance_ratio(true_delta):
    estimates = [fit_gblup(*simulated(800, true_delta, seed=s)).delta for s in range(4)]
    assert np.exp(np.mean(np.log(estimates))) == pytest.approx(true_delta, rel=0.35)


def test_reml_estimate_is_the_maximum():
    kinship, y = simulated(300, 1.0, seed=3)
    fit = fit_gblup(kinship, y)
    assert 1e-3 < fit.delta < 1e3  # an interior optimum
    x = np.ones((300, 1))
    for factor in (0.9, 1.1):
        assert fit.loglik >= dense_reml_loglik(kinship, y, x, fit.delta * factor)


def test_blup_solves_hendersons_mixed_model_equations():
    kinship, y = simulated(50, 1.5, seed=2)
    fit = fit_gblup(kinship, y)
    n = len(y)
    x = np.ones((n, 1))
    kinv = np.linalg.inv(kinship + 1e-8 * np.eye(n))
    lhs = np.block([[x.T @ x, x.T], [x, np.eye(n) + fit.delta * kinv]])
    rhs = np.concatenate([x.T @ y, y])
    solution = np.linalg.solve(lhs, rhs)
    assert fit.beta[0] == pytest.approx(solution[0], rel=1e-5)
    np.testing.assert_allclose(fit.predict(kinship), solution[0] + solution[1:], rtol=1e-4, atol=1e-4)


def test_accessions_missing_from_the_kinship_rows_are_named(tmp_path):
    import pandas as pd

    from gpgcn.data.kinship import write_kinship
    from gpgcn.errors import InputError
    from gpgcn.models import model_settings, trait_model_outputs
    from gpgcn.models.job import trait_models_stage

    from helpers import default_config

    kinship, y = simulated(10, 1.0)
    ids = [str(i) for i in range(10)]
    write_kinship(tmp_path / "grm.tsv", kinship[:8, :8], ids[:8])
    sets = ["train"] * 7 + ["test"] * 3
    pd.DataFrame({"ID": ids, "y": y, "set": sets, "fold": [1, 2] * 5}).to_csv(tmp_path / "split.tsv", sep="\t")
    outputs = {**trait_model_outputs(str(tmp_path / "models")), "cv_predictions": "cv.tsv", "table": "table.tsv"}
    with pytest.raises(InputError, match=r"grm.tsv: accessions of .*split.tsv missing from the kinship's rows: 8, 9"):
        trait_models_stage(
            files={"trait": "T", "split_path": tmp_path / "split.tsv", "grm_path": tmp_path / "grm.tsv"},
            settings=model_settings(default_config()),
            outputs=outputs,
        )
    assert not (tmp_path / "models").exists()


def test_the_loci_scan_is_generalised_least_squares_at_the_null_variance_ratio():
    """Each marker's t from the eigenbasis scan equals the textbook GLS t with V = K + δI, δ the
    null model's REML estimate, covariates fitted beside the marker (to the float32 rounding of
    the scan's rotation)."""
    from gpgcn.models.loci import association
    from gpgcn.models.split_kinship import SplitKinship

    rng = np.random.default_rng(5)
    n, p = 150, 40
    kinship, y = simulated(n, 1.0, seed=5)
    markers = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    markers -= markers.mean(axis=0)
    y = y + 0.8 * markers[:, 3]
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    fit_all = np.ones(n, bool)
    model = SplitKinship(kinship, fit_all, FixedEffects(x, ["intercept", "z"]), np.diag(kinship))
    t, dof = association(model, y, fit_all, markers)
    assert dof == n - x.shape[1] - 1
    delta = model.fit(y, fit_all)[0].delta
    v_inv = np.linalg.inv(kinship + delta * np.eye(n))
    for j in (0, 3, 17):
        design = np.column_stack([x, markers[:, j]])
        covariance = np.linalg.inv(design.T @ v_inv @ design)
        beta = covariance @ design.T @ v_inv @ y
        residual = y - design @ beta
        sigma2 = residual @ v_inv @ residual / (n - design.shape[1])
        assert t[j] == pytest.approx(beta[-1] / np.sqrt(sigma2 * covariance[-1, -1]), rel=1e-6, abs=1e-5)
    assert np.argmax(np.abs(t)) == 3


def test_rkhs_distances_are_the_genotypes_own():
    """From a VanRaden GRM, G_ii + G_jj - 2 G_ij is the squared distance between the accessions'
    centred genotypes over 2 Σ p(1-p); without the self-relationships of every row (a published
    matrix with training columns only), the distance between the rows of relationships."""
    from gpgcn.models.split_kinship import SplitKinship

    rng = np.random.default_rng(6)
    dosage = rng.binomial(2, 0.3, size=(30, 200)).astype(float)
    freq = dosage.mean(axis=0) / 2
    z = dosage - 2 * freq
    scale = 2 * np.sum(freq * (1 - freq))
    grm = z @ z.T / scale
    train = np.arange(30) < 20
    full = SplitKinship(grm[:, train], train, FixedEffects.intercept(30), np.diag(grm))
    genotype_distances = np.sum((z[:, None, :] - z[None, train, :]) ** 2, axis=2) / scale
    np.testing.assert_allclose(full.squared_distances(), genotype_distances, atol=1e-9)
    rows_only = SplitKinship(grm[:, train], train, FixedEffects.intercept(30), np.where(train, np.diag(grm), np.nan))
    k = grm[:, train]
    row_distances = np.sum((k[:, None, :] - k[None, train, :]) ** 2, axis=2)
    np.testing.assert_allclose(rows_only.squared_distances(), row_distances, atol=1e-9)


def rkhs_case(scale=1.0):
    from gpgcn.models.split_kinship import SplitKinship

    kinship, y = simulated(80, 1.0, seed=3, p=300)
    y = y + 2.0 * np.tanh(3 * (kinship[:, 0] - kinship[:, 1]))  # a non-additive part
    train = np.arange(80) < 60
    model = SplitKinship(scale * kinship[:, train], train, FixedEffects.intercept(80), scale * np.diag(kinship))
    return model, y, train


def test_rkhs_does_not_depend_on_the_kinships_scale():
    """The Gaussian kernel's distances are divided by their median: a kinship on another scale
    (a GRM x 100) gives the same kernel, bandwidth and predictions."""
    from gpgcn.models.rkhs import fit_rkhs

    (model, y, train), (scaled, _, _) = rkhs_case(), rkhs_case(100.0)
    bandwidth, predicted = fit_rkhs(model, y, train)
    assert fit_rkhs(scaled, y, train)[0] == bandwidth
    np.testing.assert_allclose(fit_rkhs(scaled, y, train)[1], predicted, rtol=1e-6, atol=1e-8)


def test_rkhs_kernels_are_the_gaussian_kernel_of_each_bandwidth():
    """Each kernel, though all but the widest come from squaring, is exp(−d² / (h · median d²)),
    the median over the fitted accessions' pairs."""
    from gpgcn.models.rkhs import BANDWIDTHS, kernels

    model, _, train = rkhs_case()
    distances = model.squared_distances()
    among = distances[np.ix_(train, model.column[train])]
    median = np.median(among[np.triu_indices(len(among), 1)])
    found = kernels(model, train)
    assert list(found) == list(BANDWIDTHS)
    for h, kernel in found.items():
        np.testing.assert_allclose(kernel.k, np.exp(-distances / (h * median)), rtol=1e-13, atol=1e-300)


def test_rkhs_takes_the_bandwidth_reml_likes_best():
    """Of every bandwidth's kernel, the one of highest REML likelihood on the accessions fitted to,
    and its predictions."""
    from gpgcn.models.rkhs import BANDWIDTHS, fit_rkhs, kernels

    model, y, train = rkhs_case()
    candidates = kernels(model, train)
    likelihood = {h: kernel.fit(y, train)[0].loglik for h, kernel in candidates.items()}
    best = max(likelihood, key=likelihood.get)
    assert best != BANDWIDTHS[0]  # the case tells the rule from taking the first
    bandwidth, predicted = fit_rkhs(model, y, train)
    assert bandwidth == best
    np.testing.assert_allclose(predicted, candidates[best].fit_predict(y, train)[2])
