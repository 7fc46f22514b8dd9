"""Line charts as standalone SVG (standard library only): one panel per series group."""

COLORS = {"adaptive": "#1f77b4", "fixed": "#d62728", "offered": "#7f7f7f", "target": "#2ca02c"}


def _polyline(points, x_scale, y_scale, color, dashed=False):
    if not points:
        return ""
    coords = " ".join(f"{x_scale(x):.1f},{y_scale(y):.1f}" for x, y in points)
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{dash} points="{coords}"/>'


def panel(title, unit, series, top, width, height, x_max, log=False):
    """SVG for one panel: series is [(label, color, [(x, y)], dashed)]."""
    left, right = 70, 150
    values = [y for _, _, points, _ in series for _, y in points if y is not None]
    y_max = max(values + [1e-9]) * 1.1
    if log:
        import math
        floor = max(min([v for v in values if v > 0] + [1]) / 2, 1e-3)
        lo, hi = math.log10(floor), math.log10(max(y_max, floor * 10))

        def y_scale(y):
            y = max(y, floor)
            return top + height - (math.log10(y) - lo) / (hi - lo) * height
        ticks = [10 ** e for e in range(int(math.floor(lo)), int(math.ceil(hi)) + 1) if lo <= e <= hi]
    else:
        def y_scale(y):
            return top + height - y / y_max * height
        ticks = [y_max / 4 * i for i in range(5)]

    def x_scale(x):
        return left + x / x_max * (width - left - right)

    parts = [f'<text x="{left}" y="{top - 6}" font-weight="bold">{title}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height}" fill="none" stroke="#ccc"/>']
    for tick in ticks:
        y = y_scale(tick)
        label = f"{tick:.0f}" if tick >= 10 else f"{tick:.2g}"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{label}</text>')
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    parts.append(f'<text x="12" y="{top + height / 2}" font-size="10" transform="rotate(-90 12 {top + height / 2})">{unit}</text>')
    step = 5 if x_max <= 60 else 10
    for second in range(0, int(x_max) + 1, step):
        x = x_scale(second)
        parts.append(f'<text x="{x:.1f}" y="{top + height + 13}" text-anchor="middle" font-size="10">{second}</text>')
    for index, (label, color, points, dashed) in enumerate(series):
        parts.append(_polyline([(x, y) for x, y in points if y is not None], x_scale, y_scale, color, dashed))
        ly = top + 14 + index * 16
        parts.append(f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 34}" y="{ly}" font-size="11">{label}</text>')
    return "\n".join(parts)


def chart(title, panels, x_max, path):
    """Writes a chart of stacked panels: [(title, unit, series, log)] over seconds 0..x_max."""
    width, height, gap = 900, 150, 40
    total = 40 + len(panels) * (height + gap) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" font-family="sans-serif" font-size="12">',
             f'<rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>']
    for index, (panel_title, unit, series, log) in enumerate(panels):
        parts.append(panel(panel_title, unit, series, 50 + index * (height + gap), width, height, x_max, log))
    parts.append(f'<text x="{width / 2}" y="{total - 4}" text-anchor="middle" font-size="11">seconds</text>')
    parts.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(parts))
