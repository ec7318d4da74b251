import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain.downsample import lttb


def test_small_inputs_unchanged():
    pts = [(0.0, 1.0), (1.0, 2.0), (2.0, 0.0)]
    assert lttb(pts, 3) == pts
    assert lttb(pts, 10) == pts
    assert lttb(pts, 2) == pts
    assert lttb([], 5) == []


def test_keeps_spike():
    pts = [(float(i), 0.0) for i in range(100)]
    pts[50] = (50.0, 100.0)
    out = lttb(pts, 10)
    assert (50.0, 100.0) in out
    assert out[0] == pts[0] and out[-1] == pts[-1]


@pytest.mark.parametrize("threshold", [3, 4, 7, 99])
def test_exact_length(threshold):
    pts = [(float(i), float(i % 7)) for i in range(100)]
    assert len(lttb(pts, threshold)) == threshold


@st.composite
def series(draw):
    xs = draw(st.lists(st.integers(-(10**6), 10**6), min_size=0, max_size=300, unique=True))
    xs.sort()
    ys = draw(st.lists(st.floats(-1e6, 1e6), min_size=len(xs), max_size=len(xs)))
    return [(float(x), y) for x, y in zip(xs, ys, strict=True)]


@given(pts=series(), threshold=st.integers(3, 400))
def test_lttb_properties(pts, threshold):
    out = lttb(pts, threshold)
    assert len(out) == min(threshold, len(pts))
    if pts:
        assert out[0] == pts[0]
        assert out[-1] == pts[-1]
    xs = [p[0] for p in out]
    assert all(a < b for a, b in zip(xs, xs[1:], strict=False))
    # Output is a subsequence of the input.
    it = iter(pts)
    assert all(any(p == q for q in it) for p in out)


@given(pts=series(), threshold=st.integers(-5, 2))
def test_lttb_small_threshold_returns_input(pts, threshold):
    assert lttb(pts, threshold) == pts
