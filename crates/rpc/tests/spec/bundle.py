#!/usr/bin/env python3
"""Bundle the vendored execution-apis YAML (execution-apis/src) into one JSON document that the
conformance test (crates/rpc/tests/conformance.rs) reads, so that the test needs no YAML parser:

    {"source": ..., "commit": ..., "methods": [method objects, in file order, each with "file"],
     "components": {"schemas": {NAME: schema, ...}}}

Schemas keep their `$ref`s (`#/components/schemas/NAME`), which resolve inside this document.
Run from anywhere: python3 crates/rpc/tests/spec/bundle.py (needs PyYAML). See README.md.
"""

import json
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE / "execution-apis" / "src"
METHOD_DIRS = ["eth", "debug", "txpool"]


def main() -> int:
    commit = (HERE / "execution-apis" / "COMMIT").read_text().strip()
    methods = []
    for directory in METHOD_DIRS:
        for path in sorted((SRC / directory).glob("*.yaml")):
            for method in yaml.safe_load(path.read_text()):
                method["file"] = str(path.relative_to(SRC))
                methods.append(method)
    schemas = {}
    for path in sorted((SRC / "schemas").glob("*.yaml")):
        for name, schema in yaml.safe_load(path.read_text()).items():
            if name in schemas:
                print(f"schema {name} defined twice", file=sys.stderr)
                return 1
            schemas[name] = schema
    bundle = {
        "source": "https://github.com/ethereum/execution-apis",
        "commit": commit,
        "methods": methods,
        "components": {"schemas": schemas},
    }
    out = HERE / "execution-apis.json"
    out.write_text(json.dumps(bundle, indent=1, sort_keys=False) + "\n")
    print(f"{out}: {len(methods)} methods, {len(schemas)} schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
