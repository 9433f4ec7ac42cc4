"""How far two runs of one config move the accuracy pages when only float rounding differs between
them: every model's CV r and choice on the six real traits, wheat and mice, as the pages at
`--before` (an earlier run of the same configs) and as they are now. Writes
docs/benchmarks/run_to_run.md.

    .venv/bin/python benchmarks/run_to_run.py --before 902ec2c --why "..."
"""

import argparse
import time

from model_tables import REPO, accuracy_cells, page_before

PAGES = {  # (page, section or None): what the rows are
    ("real_traits.md", None): "six real traits",
    ("real_genotypes.md", "wheat"): "wheat",
    ("real_genotypes.md", "mice"): "mice",
}


def rows(before):
    lines = [
        "| cohort | trait | model | CV r before | CV r now | now − before | choice |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    largest = {}
    for (page, section), cohort in PAGES.items():
        old = accuracy_cells(page_before(page, before), section)
        new = accuracy_cells((REPO / "docs" / "benchmarks" / page).read_text(), section)
        for key, (r_now, chosen_now) in new.items():
            if key not in old:
                continue
            r_old, chosen_old = old[key]
            largest[key[1]] = max(largest.get(key[1], 0.0), abs(r_now - r_old))
            choice = "same" if chosen_now == chosen_old else f"{chosen_old} → {chosen_now}"
            lines.append(
                f"| {cohort} | {key[0]} | {key[1]} | {r_old:.3f} | {r_now:.3f} | {r_now - r_old:+.3f} | {choice} |"
            )
    return lines, largest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the commit whose pages hold the earlier run")
    parser.add_argument("--why", required=True, help="what differs between the two runs' code")
    args = parser.parse_args()
    table, largest = rows(args.before)
    lines = [
        "# Run to run: what float rounding moves",
        "",
        f"Written {time.strftime('%Y-%m-%d')} from the pages' two runs:",
        "",
        "```sh",
        f'.venv/bin/python benchmarks/run_to_run.py --before {args.before} --why "{args.why}"',
        "```",
        "",
        f"The same configs on the same machine, run at {args.before} and again now; between the two the code",
        f"differs in {args.why}. Early stopping compares validation losses epoch by epoch, so a difference in the",
        "last bit can stop a member an epoch or many epochs elsewhere, and that member's fold, candidate and",
        "stack weights move with it: the kind of difference another CPU, BLAS or thread count makes.",
        "",
        "Largest change of the CV r over every trait, by model: "
        + ", ".join(f"{model} {change:.3f}" for model, change in largest.items())
        + ".",
        "",
        *table,
        "",
    ]
    out = REPO / "docs" / "benchmarks" / "run_to_run.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
