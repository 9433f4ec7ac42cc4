"""Data: the genotype formats and their readers (VCF/BCF, PLINK), regions, dosages, the kinship
and its graph, phenotypes, covariates and the simulated cohort."""
