"""Remote inputs, served from a local HTTP server on 127.0.0.1."""

import functools
import hashlib
import http.server
import socket
import threading

import pytest

from gpgcn.data.fetch import fetch
from gpgcn.errors import InputError


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "pheno.tsv").write_text("ID\tFT10_mean\n1\t50\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_fetch_with_matching_checksum(server, tmp_path):
    url, root = server
    digest = hashlib.sha256((root / "pheno.tsv").read_bytes()).hexdigest()
    out = tmp_path / "resources" / "pheno.tsv"
    fetch(f"{url}/pheno.tsv", out, f"sha256:{digest}")
    assert out.read_text() == "ID\tFT10_mean\n1\t50\n"


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    url, _ = server
    out = tmp_path / "resources" / "pheno.tsv"
    with pytest.raises(InputError, match="sha256 checksum mismatch: expected 00ff"):
        fetch(f"{url}/pheno.tsv", out, "sha256:00ff")
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_unknown_checksum_type_is_refused(server, tmp_path):
    url, _ = server
    out = tmp_path / "resources" / "pheno.tsv"
    with pytest.raises(InputError, match=r"pheno.tsv: unknown checksum type 'sha1'"):
        fetch(f"{url}/pheno.tsv", out, "sha1:00ff")
    assert not out.exists()


def test_missing_file_and_unreachable_host(server, tmp_path):
    url, _ = server
    out = tmp_path / "x.tsv"
    with pytest.raises(InputError, match="(?i)could not download: .*not found"):
        fetch(f"{url}/absent.tsv", out)
    with socket.socket() as bound:  # held, never listening: a connection to it is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(InputError, match=f"127.0.0.1:{port}/x.tsv: could not download"):
            fetch(f"http://127.0.0.1:{port}/x.tsv", out, timeout=5)
    assert not out.exists()


@pytest.mark.slow
def test_workflow_fetches_remote_phenotypes(server, tmp_path):
    """Mode vcf with the phenotype table given as a URL: fetched into resources/, then used."""
    import json

    from helpers import TINY, snakemake, vcf_mode_config, write_config

    url, root = server
    cohort, work = tmp_path / "cohort", tmp_path / "work"
    cohort.mkdir()
    work.mkdir()
    write_config(cohort, TINY)
    run = snakemake(cohort, "--cores", "1", "results/cohort/phenotypes.tsv")
    assert run.returncode == 0, run.stdout[-2000:]
    (root / "phenotypes.tsv").write_bytes((cohort / "results/cohort/phenotypes.tsv").read_bytes())
    digest = hashlib.sha256((root / "phenotypes.tsv").read_bytes()).hexdigest()
    vcf_mode_config(
        work,
        cohort / "results/cohort",
        {"input": {"checksums": {"phenotypes": f"sha256:{digest}"}}},
        phenotypes=f"{url}/phenotypes.tsv",
    )
    run = snakemake(work, "--cores", "2", "results/split/FT10_mean/summary.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (work / "resources/phenotypes/phenotypes.tsv").exists()
    assert json.loads((work / "results/split/FT10_mean/summary.json").read_text())["n_phenotyped"] == 100
