"""Configuration errors a person reads in one line each: the key, the value, what was expected.

Snakemake's own schema validation prints the whole schema; this runs first and names only what
is wrong."""

import jsonschema


def config_errors(config, schema):
    """One line per problem, in key order (empty when the config is valid)."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        key = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            unknown = ", ".join(sorted(set(error.instance) - set(allowed)))
            lines.append(f"{key or 'top level'}: unknown key {unknown} (expected one of: {', '.join(allowed)})")
        elif error.validator == "required":
            lines.append(f"{key or 'top level'}: {error.message}")
        else:
            lines.append(f"{key} = {error.instance!r}: {error.message}")
    return lines
