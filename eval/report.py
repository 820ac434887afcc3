"""Tables for the terminal and Markdown, and bar charts as PNG."""

from __future__ import annotations

from pathlib import Path

from .metrics import METRICS


def print_table(rows: dict[str, dict], title: str = "", metrics=METRICS) -> None:
    if title:
        print(f"\n{title}")
    width = max(len(name) for name in rows) + 2
    print("method".ljust(width) + "".join(m.rjust(11) for m in metrics))
    for name, values in rows.items():
        print(name.ljust(width) + "".join(f"{values[m]:11.3f}" for m in metrics))


def markdown_table(rows: dict[str, dict], metrics=METRICS) -> str:
    lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[m]:.3f}" for m in metrics) + " |")
    return "\n".join(lines)


def bar_chart(metrics_by_method: dict[str, dict], out: Path, title: str,
              slices: tuple[str, ...] = ("overall", "language=zh", "language=en", "language=zh-hant",
                                         "kind=paraphrase", "kind=multi_city")) -> None:
    """Recall@5 and MRR@10 per method, overall and for the slices that separate methods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(metrics_by_method)
    present = [s for s in slices if all(s in metrics_by_method[m] for m in methods)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    width = 0.8 / len(methods)
    for ax, metric in zip(axes, ("recall@5", "mrr@10")):
        for i, method in enumerate(methods):
            values = [metrics_by_method[method][s][metric] for s in present]
            xs = [x + i * width for x in range(len(present))]
            bars = ax.bar(xs, values, width, label=method)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
        ax.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(present))])
        ax.set_xticklabels([s.split("=")[-1] for s in present], fontsize=8)
        ax.set_title(metric)
        ax.set_ylim(0, 1.12)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
