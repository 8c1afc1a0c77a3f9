"""The benchmark's figure: HR MAE against severity, one panel per degradation, one line per row."""

from __future__ import annotations

from pathlib import Path

from codephys_plugin.benchmark.protocol import CLEAN, parse_condition


def plot_results(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_degradation: dict[str, list[tuple[float, str]]] = {}
    for condition in results["conditions"]:
        parsed = parse_condition(condition)
        if parsed is not None:
            by_degradation.setdefault(parsed[0], []).append((parsed[1], condition))
    names = sorted(by_degradation)
    columns = min(4, max(1, len(names)))
    rows = -(-max(1, len(names)) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        points = [(0.0, CLEAN)] + sorted(by_degradation[name])
        for row, entries in results["table"].items():
            present = [(severity, entries[condition]) for severity, condition in points if condition in entries]
            axis.errorbar([severity for severity, _ in present], [entry["mean"] for _, entry in present],
                          yerr=[entry["spread"] for _, entry in present], marker="o", capsize=2, label=row)
        axis.set_title(name)
        axis.set_xlabel("severity")
        axis.set_ylabel("HR MAE (bpm)")
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize="small")
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
