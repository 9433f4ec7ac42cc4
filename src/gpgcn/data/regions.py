"""Genome regions for the data stages' scatter (one job per chromosome, or per fixed-size region),
and what each region's job makes of its subset BCF."""

import logging
from dataclasses import dataclass

from ..io import write_json
from .formats import GENOTYPE_SOURCES
from .genotypes import emptied_by, extract_dosages, funnel_text, write_genotype_matrix
from .kinship import GRMAccumulator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Region:
    """Positions `start`..`end` (1-based, inclusive) of `chrom`; `end` None: to the chromosome's end."""

    chrom: str
    start: int = 1
    end: int | None = None

    @property
    def whole_chromosome(self):
        return self.start == 1 and self.end is None

    @property
    def name(self):
        """File-name safe: the chromosome itself, or `chrom_start-end`."""
        if self.whole_chromosome:
            return self.chrom
        return f"{self.chrom}_{self.start}-{self.end if self.end is not None else 'end'}"

    @property
    def spec(self):
        """The region as bcftools reads it (`-r`/`-t`)."""
        if self.whole_chromosome:
            return self.chrom
        return f"{self.chrom}:{self.start}-{self.end if self.end is not None else ''}"


def plan_regions(chromosomes, size=0, lengths=None):
    """Regions tiling each chromosome in order: whole chromosomes (size 0) or `size` bp each.

    The last region of a chromosome is open-ended, so a record past the length a header declares
    still falls in exactly one region.
    """
    if size <= 0:
        return [Region(chrom) for chrom in chromosomes]
    missing = [c for c in chromosomes if c not in (lengths or {})]
    if missing:
        raise ValueError(f"no length known for chromosome(s) {', '.join(missing)}: give regions.lengths in the config")
    regions = []
    for chrom in chromosomes:
        starts = range(1, max(int(lengths[chrom]), 1) + 1, size)
        for k, start in enumerate(starts):
            last = k == len(starts) - 1
            regions.append(Region(chrom, start, None if last else start + size - 1))
    return regions


def genotype_region_stage(genotypes, files, outputs, filters, region):
    """A region's dosage matrix, SNP table and accession order, and its share of the GRM, read by
    GENOTYPE_SOURCES[genotypes]'s reader from `files`.

    The GRM share is the region's Z Zᵀ and 2 Σ p(1-p), so the kinship job sums shares exactly,
    whatever the scatter.
    """
    reader = GENOTYPE_SOURCES[genotypes].reader(files, region)
    matrix, snps, samples, funnel = extract_dosages(reader, filters)
    log.info("%s: %d accessions, %d SNPs kept; %s", reader.path, *matrix.shape, funnel)
    step = emptied_by(funnel)
    if step:
        log.warning("region %s keeps no SNP: none left after step %r (%s)", region.name, step, funnel_text(funnel))
    write_json(outputs["funnel"], {"region": region.name, **funnel})
    write_genotype_matrix(matrix, snps, samples, outputs["matrix"], outputs["snps"], outputs["accessions"])
    grm = GRMAccumulator(len(samples))
    grm.add(matrix)
    grm.save(outputs["grm_share"])
