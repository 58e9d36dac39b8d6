"""Lists the names and networks of a Sigma file written by `phonehome catalog
export`, read with a real YAML parser, one per line for tests/export.rs:

    KIND<TAB>VALUE<TAB>VENDOR_SLUG<TAB>TIER

KIND is exact (a host, or a suffix's own name), suffix (the value with its
leading dot, as |endswith gives it), filter (a web presence value the rule
leaves out) or network (a |cidr value).
"""
import sys

import yaml

for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for rule in yaml.safe_load_all(f):
            meta = rule["phonehome"]
            slug, tier = meta["vendor_slug"], meta["tier"]
            for ident, selection in rule["detection"].items():
                if ident == "condition":
                    continue
                for field, values in selection.items():
                    kind = ("filter" if ident.startswith("filter_") else
                            "network" if field.endswith("|cidr") else
                            "suffix" if field.endswith("|endswith") else
                            "exact")
                    for v in values:
                        print(f"{kind}\t{v}\t{slug}\t{tier}")
