"""The robustness benchmark: classic methods, bare networks, and the same networks with CodeQueryHead, on the
video lab's held-out subjects under each degradation and severity (see `protocol`)."""
