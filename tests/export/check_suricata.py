"""Checks a Suricata rules file written by `phonehome catalog export`.

Every line that is not a comment must parse with suricataparser (which
returns None for a line it cannot read), carry msg, sid, rev, classtype and
the phonehome metadata keys, and use a sid no other rule uses. For the
suffix rules, the negated pcre that leaves out web presence is compiled with
Python's re (the pattern uses only syntax PCRE and re share) and tried on
probe names under the suffix. Prints one summary line; exits 1 on any
problem, naming the line.
"""
import re
import sys

from suricataparser import parse_rule

REQUIRED_META = {"phonehome_id", "vendor", "vendor_slug", "product", "purpose",
                 "jurisdiction", "tier", "match", "confidence", "source"}


def fail(path, n, why, line):
    print(f"{path}:{n}: {why}: {line[:200]}")
    return 1


def check(path):
    bad = 0
    sids = {}
    rules = 0
    pcre_probes = 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            try:
                rule = parse_rule(line)
            except Exception as e:  # the parser raises on malformed options
                bad += fail(path, n, f"parse error {e!r}", line)
                continue
            if rule is None:
                bad += fail(path, n, "suricataparser cannot read this rule", line)
                continue
            rules += 1
            names = [o.name for o in rule.options]
            for need in ("msg", "sid", "rev", "classtype", "metadata"):
                if need not in names:
                    bad += fail(path, n, f"no {need}", line)
            sid = int(rule.sid)
            if sid in sids:
                bad += fail(path, n, f"sid {sid} also on line {sids[sid]}", line)
            sids[sid] = n
            if not 1_000_000_000 <= sid <= 1_999_999_999:
                bad += fail(path, n, f"sid {sid} outside the private range", line)
            meta = {}
            for item in rule.metadata:
                key, _, value = item.partition(" ")
                if not value:
                    bad += fail(path, n, f"metadata item without a value: {item!r}", line)
                meta.setdefault(key, []).append(value)
            missing = REQUIRED_META - meta.keys()
            if missing:
                bad += fail(path, n, f"metadata lacks {sorted(missing)}", line)
            if "dotprefix" in names:
                content = next(o.value for o in rule.options if o.name == "content")
                domain = content.strip('"')
                if not domain.startswith("."):
                    bad += fail(path, n, "dotprefix content does not start with a dot", line)
                domain = domain[1:]
                pcre = next((o.value for o in rule.options if o.name == "pcre"), None)
                if pcre is None or not pcre.startswith('!"/') or not pcre.endswith('/i"'):
                    bad += fail(path, n, "suffix rule without its negated web pcre", line)
                    continue
                regex = re.compile(pcre[3:-3], re.IGNORECASE)
                # (name under the suffix, web presence?) as phonehome decides it.
                probes = [("zz-probe." + domain, False), ("www." + domain, True),
                          ("Docs.eu." + domain, True), ("eu.www." + domain, False),
                          ("a.b.c." + domain, False)]
                for name, web in probes:
                    pcre_probes += 1
                    if bool(regex.match("." + name)) != web:
                        bad += fail(path, n, f"pcre says web={not web} for {name}", line)
    print(f"{path}: {rules} rules, {len(sids)} distinct sids, {pcre_probes} pcre probes, {bad} problems")
    return bad


if __name__ == "__main__":
    problems = sum(check(p) for p in sys.argv[1:])
    sys.exit(1 if problems or len(sys.argv) < 2 else 0)
