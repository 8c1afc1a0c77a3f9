"""The benchmark's figures: HR MAE against severity, one panel per degradation, one line per row; one figure
per network (with the classic methods and the no-pulse floor for reference), and one of its Table V ablations
where they were run."""

from __future__ import annotations

from pathlib import Path

from codephys_plugin.benchmark.protocol import CLEAN, MAIN_METHODS, NO_PULSE, TABLE_V, UNTRAINED, parse_condition

ROW_STYLE = {"marker": "o", "capsize": 2}
FLOOR_STYLE = {"color": "grey", "linestyle": "--"}
"""The no-pulse floor is a reference, not a method: a dashed grey line without markers."""


def network_figures(results: dict, out: Path) -> list[Path]:
    """mae_vs_severity_<network>.png for every network in the table, ablations_<network>.png beside it when
    rows beyond head_noquant's were run; returns the paths written."""
    networks = sorted({row.partition(" ")[0] for row in results["table"] if row not in UNTRAINED})
    written = []
    for network in networks:
        main = [*UNTRAINED, *(f"{network} {method}" for method in MAIN_METHODS if method not in UNTRAINED)]
        written.append(plot_results(results, figure_path(out, network), main, network))
        ablations = [f"{network} {method}" for method in ("bare", "head", *TABLE_V)]
        if any(f"{network} {method}" in results["table"] for method in TABLE_V if method not in MAIN_METHODS):
            written.append(plot_results(results, out / f"ablations_{network}.png", ablations, f"{network}: Table V"))
    return written


def figure_path(out: Path, network: str) -> Path:
    """Where a network's main figure is written."""
    return out / f"mae_vs_severity_{network}.png"


def plot_results(results: dict, path: Path, rows: list[str], title: str) -> Path:
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
    grid_rows = -(-max(1, len(names)) // columns)
    figure, axes = plt.subplots(grid_rows, columns, figsize=(4 * columns, 3.2 * grid_rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        points = [(0.0, CLEAN)] + sorted(by_degradation[name])
        for row in (row for row in rows if row in results["table"]):
            entries = results["table"][row]
            present = [(severity, entries[condition]) for severity, condition in points if condition in entries]
            axis.errorbar([severity for severity, _ in present], [entry["mean"] for _, entry in present],
                          yerr=[entry["spread"] for _, entry in present], label=row,
                          **(FLOOR_STYLE if row == NO_PULSE else ROW_STYLE))
        axis.set_title(name)
        axis.set_xlabel("severity")
        axis.set_ylabel("HR MAE (bpm)")
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize="small")
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
