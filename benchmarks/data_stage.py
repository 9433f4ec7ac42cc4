"""The data stage against plink2 on the same cores: VCF -> GRM + kinship graph.

    .venv/bin/python benchmarks/data_stage.py [--length-scale 0.26] [--mutation-rate-scale 3]
                                              [--region-size 3000000] [--cores 2] [--rounds 3]

Needs plink2 and GNU time (Debian packages `plink2` and `time`). Simulates once (kept under
benchmarks/out/data_stage/cohort/ and reused while its parameters match) a 1,135-accession cohort
at the 1001 Genomes' variant density; by default 26% of each TAIR10 chromosome, 31 Mb, about 3 M
variants. Then, in one run and on the same cores, it times in alternating rounds (the ratio of
each round pairs runs made back to back; the page shows the round with the median ratio)
  (a) the pipeline's data stage through Snakemake (subset_vcf, genotype_matrix per region,
      kinship, kinship_graph; mode vcf on the simulated files) with `--cores N` (and once with
      `--cores 1`, for the scatter's scaling);
  (b) plink2 --vcf ... --keep ... --snps-only just-acgt --max-alleles 2 --maf 0.05
      --make-rel square --threads N;
and writes the ratio, each side's peak RSS and records/s, and the scatter's wall time with 1, N
and (estimated from the per-job times) 12 parallel jobs to docs/benchmarks/data_stage.md.

Snakemake's SLURM executor plugin runs `scontrol show config` as Snakemake loads: on a machine
with SLURM's client tools but no controller that waits 10 s, which a cluster never sees. The page
records what the probe took; `tests/slurm/start_cluster.sh` (root) gives this machine a controller.
"""

import argparse
import heapq
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gpgcn.data.simulate import simulate_cohort  # noqa: E402
from gpgcn.records import cpu_model  # noqa: E402

CHROMOSOMES = ["1", "2", "3", "4", "5"]
DATA_RULES = ("subset_vcf", "genotype_matrix", "kinship", "kinship_graph")


def simulate_once(directory, length_scale, mutation_rate_scale):
    """The cohort, simulated unless this directory already holds one made with these parameters."""
    # "records": what the VCF writer puts in each record; a cohort written before it did is stale.
    params = {
        "length_scale": length_scale,
        "mutation_rate_scale": mutation_rate_scale,
        "seed": 7,
        "records": "ID, AC/AN INFO, indels, multi-allelic sites, missing calls",
    }
    stamp = directory / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        print(f"reusing the cohort in {directory}", flush=True)
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    print(f"simulating a 1,135-accession cohort ({params}) ...", flush=True)
    start = time.perf_counter()
    simulate_cohort(
        directory / "cohort.vcf.gz",
        directory / "study.txt",
        directory / "phenotypes.tsv",
        directory / "genetic_values.tsv",
        chromosomes=CHROMOSOMES,
        n_accessions=1135,
        n_study=383,
        length_scale=length_scale,
        mutation_rate_scale=mutation_rate_scale,
        h2=0.6,
        n_causal=100,
        traits=["FT10_mean"],
        missing_rate=0.01,
        indel_fraction=0.02,
        multiallelic_fraction=0.01,
        seed=params["seed"],
    )
    print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    stamp.write_text(json.dumps(params))


def cohort_size(directory):
    """VCF records and base pairs, from the tabix index and the header."""
    import pysam

    with pysam.TabixFile(str(directory / "cohort.vcf.gz")) as tabix:
        records = sum(1 for chrom in tabix.contigs for _ in tabix.fetch(chrom))
    with pysam.VariantFile(str(directory / "cohort.vcf.gz")) as vcf:
        length = sum(contig.length for contig in vcf.header.contigs.values())
    return records, length


def wait_until_idle(label, limit=0.10, tries=10):
    """CPU busy fraction over 2 s before a timed run (retried a while if another process runs)."""
    for _ in range(tries):
        busy = psutil.cpu_percent(interval=2.0) / 100
        if busy <= limit:
            break
        print(f"  CPU {busy:.0%} busy before {label}: waiting", flush=True)
    return busy


def run_pipeline(work, cohort, cores, region_size):
    """The data stage through Snakemake from scratch: wall seconds and the per-job benchmarks."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["input"].update(
        mode="vcf",
        vcf=str(cohort / "cohort.vcf.gz"),
        samples=str(cohort / "study.txt"),
        phenotypes=str(cohort / "phenotypes.tsv"),
    )
    config["chromosomes"] = CHROMOSOMES
    config["regions"] = {"size": region_size, "lengths": {}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        str(cores),
        "results/kinship/grm.tsv",
        "results/graph/knn_graph.tsv",
        "--configfile",
        str(work / "config.yaml"),
    ]
    busy = wait_until_idle(f"snakemake --cores {cores}")
    started = time.time()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.time() - started
    if run.returncode != 0:
        sys.exit(f"snakemake failed:\n{run.stderr[-3000:]}")
    # Snakemake names its log after the moment it starts logging, once loaded: start-up before that.
    log_name = next((work / ".snakemake" / "log").glob("*.snakemake.log")).name
    startup = datetime.strptime(log_name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f").timestamp() - started
    jobs = []
    benchmarks = work / "results" / "benchmarks"
    for rule in DATA_RULES:
        # A per-region rule has a folder of benchmark files, a single job one file.
        for tsv in sorted((benchmarks / rule).glob("*.tsv")) or [benchmarks / f"{rule}.tsv"]:
            row = pd.read_csv(tsv, sep="\t").iloc[0]
            jobs.append(
                {"rule": rule, "job": tsv.stem, "seconds": float(row["s"]), "max_rss_mb": float(row["max_rss"])}
            )
    return seconds, startup, pd.DataFrame(jobs), busy


def run_plink2(work, cohort, cores):
    """plink2's VCF -> GRM on the same samples and filters: wall seconds and peak RSS (MB)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    command = [
        "/usr/bin/time",
        "-f",
        "%M",
        "plink2",
        "--vcf",
        str(cohort / "cohort.vcf.gz"),
        "--keep",
        str(cohort / "study.txt"),
        "--snps-only",
        "just-acgt",
        "--max-alleles",
        "2",
        "--maf",
        "0.05",
        "--make-rel",
        "square",
        "--threads",
        str(cores),
        "--out",
        str(work / "plink2"),
    ]
    busy = wait_until_idle("plink2")
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"plink2 failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    max_rss_mb = int(run.stderr.strip().splitlines()[-1]) / 1024
    kept = next(
        line
        for line in (work / "plink2.log").read_text().splitlines()
        if "variants remaining after main filters" in line
    )
    return seconds, max_rss_mb, int(kept.split()[0]), busy


def snakemake_import_seconds():
    """Seconds for a fresh interpreter to import Snakemake's command line, plugins included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import snakemake.cli"], check=True)
    return time.perf_counter() - start


def scontrol_probe_seconds():
    """Seconds `scontrol show config` takes here (None without SLURM's client tools): the SLURM
    executor plugin runs it as Snakemake loads, giving up after 10 s."""
    if not shutil.which("scontrol"):
        return None
    start = time.perf_counter()
    try:
        subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - start


def startup_note(import_seconds, probe_seconds):
    """What Snakemake's start-up was made of in this run."""
    note = (
        f"Snakemake's start-up: `import snakemake.cli` alone took {import_seconds:.1f} s in this run. It loads the "
        "SLURM executor plugin (a project dependency), which runs `scontrol show config` as it is imported and "
        "gives up on it after 10 s. "
    )
    if probe_seconds is None:
        return note + "SLURM's client tools are not installed here, so that costs nothing."
    if probe_seconds >= 5:
        return note + (
            f"Here it took {probe_seconds:.1f} s: SLURM's client tools are installed and no controller answers, a "
            "wait that is in the start-up above and absent on a cluster (start one with "
            "`tests/slurm/start_cluster.sh` to measure without it)."
        )
    return note + f"Here a SLURM controller answered it in {probe_seconds:.2f} s, as on a cluster."


def makespan(jobs, slots):
    """Wall time of the per-region chains (subset then genotypes) on `slots` parallel job slots,
    longest first, then the kinship and graph jobs: an estimate without contention."""
    per_region = jobs[jobs["rule"].isin(["subset_vcf", "genotype_matrix"])].groupby("job")["seconds"].sum()
    finish = [0.0] * slots
    for seconds in sorted(per_region, reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + seconds)
    return max(finish) + jobs[jobs["rule"].isin(["kinship", "kinship_graph"])]["seconds"].sum()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length-scale", type=float, default=0.26, help="of each TAIR10 chromosome (0.26: 31 Mb)")
    parser.add_argument("--mutation-rate-scale", type=float, default=3.0, help="3: the 1001 Genomes' density")
    parser.add_argument("--region-size", type=int, default=3_000_000, help="bp per data job (0: per chromosome)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating plink2 / pipeline runs (odd: a median)")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "data_stage")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks")
    args = parser.parse_args()
    if not shutil.which("plink2") or not Path("/usr/bin/time").exists():
        sys.exit("needs plink2 and GNU time: apt-get install plink2 time")

    cohort = args.work / "cohort"
    simulate_once(cohort, args.length_scale, args.mutation_rate_scale)
    records, length = cohort_size(cohort)
    print(f"cohort: {records:,} records over {length / 1e6:.1f} Mb", flush=True)

    # Alternating rounds: a shared machine's speed drifts by tens of percent between minutes, so
    # each ratio pairs runs made back to back, and the page shows the round with the median one.
    rounds = []
    for i in range(1, args.rounds + 1):
        plink = run_plink2(args.work / "plink2", cohort, args.cores)
        print(f"round {i}: plink2 {plink[0]:.1f} s, {plink[1]:.0f} MB", flush=True)
        # Every round writes the same files (run_pipeline starts from scratch): the last one's stay.
        ours = run_pipeline(args.work / "pipeline", cohort, args.cores, args.region_size)
        print(f"round {i}: pipeline --cores {args.cores} {ours[0]:.1f} s ({ours[1]:.1f} s start-up)", flush=True)
        rounds.append((i, plink, ours))
    median_round, plink, ours = sorted(rounds, key=lambda r: r[2][0] / r[1][0])[len(rounds) // 2]
    plink_seconds, plink_rss, plink_snps, plink_busy = plink
    ours_seconds, startup, jobs, ours_busy = ours
    one_seconds, _, _, one_busy = run_pipeline(args.work / "pipeline_1", cohort, 1, args.region_size)
    print(f"pipeline --cores 1: {one_seconds:.1f} s", flush=True)
    snps = sum(
        len(pd.read_csv(p, sep="\t", usecols=["pos"]))
        for p in (args.work / "pipeline" / "results" / "genotypes").glob("*.snps.tsv")
    )
    n_regions = int((jobs["rule"] == "genotype_matrix").sum())
    by_rule = jobs.groupby("rule", sort=False).agg(
        jobs=("seconds", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max")
    )
    jobs.to_csv(args.out / "data_stage_jobs.tsv", sep="\t", index=False, float_format="%.3f")

    import_seconds = snakemake_import_seconds()
    ratio = ours_seconds / plink_seconds
    peak = jobs["max_rss_mb"].max()
    region = f"{args.region_size / 1e6:g} Mb regions" if args.region_size else "one region per chromosome"
    lines = [
        "# Data stage against plink2: VCF → GRM (+ kinship graph)",
        "",
        f"Measured by `.venv/bin/python benchmarks/data_stage.py --length-scale {args.length_scale} "
        f"--mutation-rate-scale {args.mutation_rate_scale} --region-size {args.region_size} --cores {args.cores} "
        f"--rounds {args.rounds}` "
        f"on {platform.node()}: {cpu_model()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {time.strftime('%Y-%m-%d')}; plink2 "
        f"{subprocess.run(['plink2', '--version'], capture_output=True, text=True).stdout.strip()}.",
        "",
        f"Input: simulated 1,135-accession VCF (bgzipped, tabix-indexed), {records:,} records over "
        f"{length / 1e6:.1f} Mb, subset to the 383 study accessions. Its records look like a real call set's: "
        "every one has a marker ID (`At1_1234`) and AC/AN INFO fields; 2 % are indels, 1 % multi-allelic, 1 % of "
        f"calls missing. Both sides on {args.cores} cores, one after the other, in {args.rounds} alternating rounds; "
        f"the table shows round {median_round}, the one with the median ratio.",
        "",
        "| | pipeline (Snakemake) | plink2 |",
        "| --- | --- | --- |",
        f"| what runs | subset_vcf + genotype_matrix per region ({n_regions}, {region}), kinship, kinship_graph, "
        f"`--cores {args.cores}` | `--vcf --keep --snps-only just-acgt --max-alleles 2 --maf 0.05 --make-rel square "
        f"--threads {args.cores}` |",
        f"| wall seconds | {ours_seconds:.1f} | {plink_seconds:.1f} |",
        f"| of which Snakemake start-up (until its log opens) | {startup:.1f} | |",
        f"| **ratio pipeline / plink2** | **{ratio:.2f}**; "
        f"{(ours_seconds - startup) / plink_seconds:.2f} without the start-up | 1 |",
        f"| input records / s | {records / ours_seconds:,.0f} | {records / plink_seconds:,.0f} |",
        f"| SNPs kept | {snps:,} (MAF ≥ 0.05, missing ≤ 0.1) | {plink_snps:,} (MAF ≥ 0.05) |",
        f"| peak RSS | {peak:,.0f} MB, largest data job | {plink_rss:,.0f} MB |",
        f"| CPU busy before the run | {ours_busy:.0%} | {plink_busy:.0%} |",
        "",
        "Every round:",
        "",
        "| round | plink2 s | pipeline s | of which start-up | ratio | without start-up |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {i} | {p[0]:.1f} | {o[0]:.1f} | {o[1]:.1f} | {o[0] / p[0]:.2f} | {(o[0] - o[1]) / p[0]:.2f} |"
            for i, p, o in rounds
        ],
        "",
        "Per rule (Snakemake `benchmark:` files; seconds summed over jobs, RSS the largest job's):",
        "",
        "| rule | jobs | seconds | max RSS MB |",
        "| --- | --- | --- | --- |",
        *[
            f"| {rule} | {int(row.jobs)} | {row.seconds:.1f} | {row.max_rss_mb:,.0f} |"
            for rule, row in by_rule.iterrows()
        ],
        "",
        "Scatter: wall time of the same data stage with more job slots.",
        "",
        "| parallel jobs | wall seconds | how |",
        "| --- | --- | --- |",
        f"| 1 | {one_seconds:.1f} | measured, `--cores 1` (CPU busy before: {one_busy:.0%}) |",
        f"| {args.cores} | {ours_seconds:.1f} | measured, `--cores {args.cores}` |",
        f"| 12 | {makespan(jobs, 12):.1f} | estimated: per-job seconds above placed on 12 slots, longest region first, "
        "then kinship and graph; no Snakemake start-up, no contention for disk |",
        "",
        startup_note(import_seconds, scontrol_probe_seconds()),
        "",
        "plink2 standardises each SNP (GCTA-style GRM), the pipeline computes VanRaden's; they agree in shape, "
        "not in value, so only speed is compared. Per-job times: `data_stage_jobs.tsv`.",
        "",
    ]
    (args.out / "data_stage.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
