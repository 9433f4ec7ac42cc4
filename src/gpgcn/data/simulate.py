"""Simulate an Arabidopsis-like cohort: a VCF of inbred accessions, study list, phenotypes.

The coalescent runs in msprime under stdpopsim's AraTha demography with uniform recombination
(no genetic-map download, so it works offline). Accessions are inbred: each is one haploid
genome written as a homozygous diploid, as in the 1001 Genomes VCF.
"""

import logging
import os

import msprime
import numpy as np
import pandas as pd
import pysam
import stdpopsim
import tskit

from ..io import atomic_path, write_ids, write_tsv

log = logging.getLogger(__name__)

# The simulated genome's chromosomes (TAIR10's nuclear ones), unless `chromosomes` names others.
CHROMOSOMES = ["1", "2", "3", "4", "5"]
# Real 1001 Genomes accession IDs are integers in this range.
ID_RANGE = (88, 10020)
FT10_MEAN, FT10_SD = 60.0, 15.0
CHUNK_SITES = 20_000


def simulated_length(real_length, length_scale):
    return max(1000, int(round(real_length * length_scale)))


def chromosome_lengths(chromosomes, length_scale):
    """The simulated VCF's contig lengths, known before it is simulated (for region planning)."""
    genome = stdpopsim.get_species("AraTha").genome
    return {c: simulated_length(genome.get_chromosome(c).length, length_scale) for c in chromosomes}


def simulate_chromosome(chrom, *, n_accessions, length_scale, mutation_rate_scale, model_id, seed):
    """One chromosome's tree sequence with mutations, scaled to `length_scale` of its real length.

    `mutation_rate_scale` multiplies stdpopsim's rate: 1.0 gives ~31k sites per Mb among 1,135
    accessions, about 3 gives the 1001 Genomes VCF's density (~12 M variants over 120 Mb)."""
    species = stdpopsim.get_species("AraTha")
    contig = species.genome.get_chromosome(chrom)
    demography = species.get_demographic_model(model_id).model
    length = simulated_length(contig.length, length_scale)
    ts = msprime.sim_ancestry(
        samples=[msprime.SampleSet(n_accessions, population=demography.populations[0].name, ploidy=1)],
        demography=demography,
        sequence_length=length,
        recombination_rate=contig.recombination_rate,
        ploidy=2,
        random_seed=seed,
    )
    return msprime.sim_mutations(ts, rate=contig.mutation_rate * mutation_rate_scale, random_seed=seed + 1)


def site_alleles(ts):
    """Per site: allele list and per-sample allele index, in chunks of sites (bounded memory)."""
    variant = tskit.Variant(ts)
    for start in range(0, ts.num_sites, CHUNK_SITES):
        stop = min(ts.num_sites, start + CHUNK_SITES)
        alleles, genotypes = [], np.empty((stop - start, ts.num_samples), dtype=np.int8)
        for row, site_id in enumerate(range(start, stop)):
            variant.decode(site_id)
            alleles.append(list(variant.alleles))
            genotypes[row] = variant.genotypes
        positions = ts.sites_position[start:stop].astype(np.int64) + 1
        yield positions, alleles, genotypes


def add_vcf_quirks(alleles, genotypes, rng, *, indel_fraction, multiallelic_fraction, missing_rate):
    """Make a chunk look like a real call set: a few indels, extra alleles and missing calls.

    Returns the quirk kind of each site ('snp', 'indel', 'multi') so that causal variants
    can be drawn from plain biallelic SNPs only.
    """
    kinds = np.full(len(alleles), "snp", dtype=object)
    for i, site in enumerate(alleles):
        if len(site) > 2:
            kinds[i] = "multi"
            continue
        u = rng.random()
        if u < indel_fraction:
            site[1] = site[0] + site[1]  # an insertion after the reference base
            kinds[i] = "indel"
        elif u < indel_fraction + multiallelic_fraction:
            third = next(b for b in "ACGT" if b not in site)
            carriers = rng.random(genotypes.shape[1]) < 0.03
            if carriers.any():
                genotypes[i, carriers] = 2
                site.append(third)
                kinds[i] = "multi"
    missing = rng.random(genotypes.shape) < missing_rate
    return kinds, missing


def vcf_header(chrom_lengths, sample_ids):
    lines = [
        "##fileformat=VCFv4.2",
        "##source=gpgcn.data.simulate (msprime, stdpopsim AraTha)",
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes, for each ALT allele">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called genotypes">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in chrom_lengths.items()]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *sample_ids]))
    return "\n".join(lines) + "\n"


def genotype_text(genotypes, missing):
    """Homozygous diploid GT fields, vectorised: one byte array per site row."""
    n_sites, n_samples = genotypes.shape
    codes = (genotypes.astype(np.uint8) + ord("0")).astype(np.uint8)
    codes[missing] = ord(".")
    cells = np.empty((n_sites, n_samples, 4), dtype=np.uint8)
    cells[:, :, 0] = codes
    cells[:, :, 1] = ord("/")
    cells[:, :, 2] = codes
    cells[:, :, 3] = ord("\t")
    cells[:, -1, 3] = ord("\n")
    return cells.reshape(n_sites, -1)


def simulate_cohort(
    vcf_path,
    study_path,
    phenotypes_path,
    genetic_values_path,
    *,
    chromosomes,
    n_accessions,
    n_study,
    length_scale,
    mutation_rate_scale=1.0,
    h2,
    n_causal,
    traits,
    missing_rate,
    indel_fraction,
    multiallelic_fraction,
    seed,
    model_id="African3Epoch_1H18",
):
    rng = np.random.default_rng(seed)
    sample_ids = [str(i) for i in np.sort(rng.choice(np.arange(*ID_RANGE), n_accessions, replace=False))]
    study = sorted(rng.choice(sample_ids, n_study, replace=False), key=int)

    tree_seqs = {}
    for k, chrom in enumerate(chromosomes):
        tree_seqs[chrom] = simulate_chromosome(
            chrom,
            n_accessions=n_accessions,
            length_scale=length_scale,
            mutation_rate_scale=mutation_rate_scale,
            model_id=model_id,
            seed=seed * 100 + k + 1,
        )
        log.info("chromosome %s: %d bp, %d sites", chrom, tree_seqs[chrom].sequence_length, tree_seqs[chrom].num_sites)

    quirks = dict(indel_fraction=indel_fraction, multiallelic_fraction=multiallelic_fraction, missing_rate=missing_rate)
    candidates = write_vcf(vcf_path, tree_seqs, sample_ids, seed, quirks)

    # Each trait its own causal SNPs and noise, drawn in the order the traits are listed.
    phenotypes, genetic = {"ID": sample_ids}, {"ID": sample_ids}
    for trait in traits:
        values = genetic_values(tree_seqs, candidates, n_causal, rng)
        values = (values - values.mean()) / values.std() * FT10_SD * np.sqrt(h2)
        noise = rng.normal(0.0, FT10_SD * np.sqrt(1 - h2), size=n_accessions)
        phenotypes[trait] = np.round(FT10_MEAN + values + noise, 2)
        genetic[trait] = FT10_MEAN + values

    write_ids(study_path, study)
    write_tsv(phenotypes_path, pd.DataFrame(phenotypes))
    write_tsv(genetic_values_path, pd.DataFrame(genetic))


def write_vcf(vcf_path, tree_seqs, sample_ids, seed, quirks):
    """The cohort's bgzipped, tabix-indexed VCF, with real VCFs' quirks (`add_vcf_quirks`'
    settings); returns the (chrom, row) of its biallelic SNPs with MAF >= 0.05 over all accessions."""
    candidates = []
    with atomic_path(vcf_path) as tmp:
        with pysam.BGZFile(str(tmp), "wb") as out:
            lengths = {c: int(ts.sequence_length) for c, ts in tree_seqs.items()}
            out.write(vcf_header(lengths, sample_ids).encode())
            for chrom, ts in tree_seqs.items():
                quirk_rng = np.random.default_rng([seed, int(chrom) if chrom.isdigit() else len(chrom)])
                candidates += write_chromosome(out, chrom, ts, quirk_rng, quirks)
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
        os.replace(f"{tmp}.tbi", f"{vcf_path}.tbi")
    return candidates


def write_chromosome(out, chrom, ts, quirk_rng, quirks):
    """One chromosome's records; returns its common biallelic SNPs as (chrom, row)."""
    candidates, row0 = [], 0
    for positions, alleles, genotypes in site_alleles(ts):
        kinds, missing = add_vcf_quirks(alleles, genotypes, quirk_rng, **quirks)
        freq = (genotypes == 1).mean(axis=1)
        maf = np.minimum(freq, 1 - freq)
        for row in np.flatnonzero((kinds == "snp") & (maf >= 0.05)):
            candidates.append((chrom, row0 + row))
        gt = genotype_text(genotypes, missing)
        # As in real VCFs: a marker ID and allele counts (homozygous calls: 2 per accession).
        called = 2 * (~missing).sum(axis=1)
        counts = [2 * ((genotypes == a) & ~missing).sum(axis=1) for a in (1, 2, 3)]
        for i, pos in enumerate(positions):
            alts = alleles[i][1:]
            ac = ",".join(str(counts[a][i]) for a in range(len(alts)))
            prefix = (
                f"{chrom}\t{pos}\tAt{chrom}_{pos}\t{alleles[i][0]}\t{','.join(alts)}\t.\tPASS\t"
                f"AC={ac};AN={called[i]}\tGT\t"
            )
            out.write(prefix.encode() + gt[i].tobytes())
        row0 += len(positions)
    return candidates


def genetic_values(tree_seqs, candidates, n_causal, rng):
    """Additive genetic values from `n_causal` random biallelic SNPs with normal effects."""
    if len(candidates) < n_causal:
        raise ValueError(f"only {len(candidates)} common biallelic SNPs for {n_causal} causal variants")
    chosen = rng.choice(len(candidates), n_causal, replace=False)
    values = 0.0
    for idx in chosen:
        chrom, site_id = candidates[idx]
        variant = tskit.Variant(tree_seqs[chrom])
        variant.decode(site_id)
        values = values + rng.normal() * 2.0 * (variant.genotypes == 1)
    return np.asarray(values, dtype=float)
