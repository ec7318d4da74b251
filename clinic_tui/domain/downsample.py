"""Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013).

Hand-written rather than using the ``lttb`` package from PyPI because that
package requires numpy, which the app otherwise does not need.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["lttb"]


def lttb(points: Sequence[tuple[float, float]], threshold: int) -> list[tuple[float, float]]:
    """Downsample ``points`` (sorted by x) to ``threshold`` points.

    Returns the input unchanged (as a list) if ``len(points) <= threshold``
    or ``threshold < 3``.  The first and last points are always kept, and the
    output is a subsequence of the input.
    """
    n = len(points)
    if threshold < 3 or n <= threshold:
        return list(points)

    buckets = threshold - 2
    inner = n - 2

    def start(i: int) -> int:
        # Index of the first point in bucket i (buckets cover points 1..n-2).
        return 1 + (i * inner) // buckets

    out = [points[0]]
    a = 0
    for i in range(buckets):
        lo, hi = start(i), start(i + 1)
        # Average of the next bucket (for the last bucket: the final point).
        nlo, nhi = (hi, start(i + 2)) if i + 1 < buckets else (n - 1, n)
        count = nhi - nlo
        avg_x = sum(points[j][0] for j in range(nlo, nhi)) / count
        avg_y = sum(points[j][1] for j in range(nlo, nhi)) / count

        ax, ay = points[a]
        best, best_area = lo, -1.0
        for j in range(lo, hi):
            x, y = points[j]
            area = abs((ax - avg_x) * (y - ay) - (ax - x) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        out.append(points[best])
        a = best
    out.append(points[-1])
    return out
