"""Run the Triton nearest-code kernel on CPU under TRITON_INTERPRET=1 and save its outputs.

Invoked in a subprocess by tests/test_triton_search.py: the variable must be set before Triton is
first imported, which a shared pytest process cannot guarantee.
"""

import os
import sys

os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

from codephys_plugin.query.search import nearest_code  # noqa: E402


def main(cases_path: str, results_path: str) -> None:
    cases = torch.load(cases_path, weights_only=True)
    results = {}
    for name, (z, codes) in cases.items():
        indices, distances = nearest_code(z, codes, backend="triton")
        results[name] = (indices, distances)
    torch.save(results, results_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
