"""Sections of results: a table, notes and targets, printed as text and kept as JSON."""

import dataclasses
import math
from typing import Any


@dataclasses.dataclass
class Target:
    name: str
    met: bool | None  # None: not measured in this run
    detail: str

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]


@dataclasses.dataclass
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    targets: list[Target] = dataclasses.field(default_factory=list)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": self.columns,
            "rows": [[_cell(value) for value in row] for row in self.rows],
            "notes": self.notes,
            "targets": [{**dataclasses.asdict(target), "verdict": target.verdict} for target in self.targets],
            "data": self.data,
        }

    def as_text(self) -> str:
        cells = [self.columns, *([_cell(value) for value in row] for row in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title, "=" * len(self.title)]
        for index, row in enumerate(cells):
            lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        lines.extend(f"* {note}" for note in self.notes)
        lines.extend(f"target {target.verdict}: {target.name}: {target.detail}" for target in self.targets)
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else figure(value)
    return str(value)


def figure(value: float) -> str:
    """Three significant figures at most, without an exponent."""
    if math.isnan(value):
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ms(seconds: float) -> float:
    return seconds * 1000
