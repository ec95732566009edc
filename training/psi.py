"""The population stability index and how large it gets when nothing has changed.

PSI compares two distributions over the same bins: sum over bins of
(current share - reference share) x ln(current share / reference share). It is 0 for equal
shares and grows with any shift. The usual rule of thumb (below 0.10 stable, 0.10-0.25 a
shift, above 0.25 a large one) ignores sample size: two samples of one unchanged population
still differ by chance, and by more the smaller they are. Under no drift, with n_ref and
n_cur independent draws over `cells` non-empty bins, PSI is about (1/n_ref + 1/n_cur) times
a chi-squared variable with cells - 1 degrees of freedom (PSI is a symmetrised chi-squared
divergence). So `no_drift_bound` gives its 99th percentile: about 0.08 for 300 accounts
against 5,000 reference rows over ten bins, about 0.005 for 5,000 against 5,000. A drift is
reported only beyond that, so a small book does not cry wolf.

Why not a library: evidently 0.7.23 fails at import on pandas 3.1 and nannyml 0.13.1
requires lightgbm < 4.6 (both re-checked in December 2026), and the statistic itself is a
few lines of numpy, tested against hand-computed values.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

# Half a row is added to every bin used on either side before shares are taken, so an
# empty bin gives a finite term. Flooring shares instead (a common convention) makes a
# rare bin that a small run happens to miss look like drift: with a 1% bin and 300
# accounts, two samples of one population then exceed the 99% bound 4.5% of the time;
# with half a row, 0.9% (measured in tests/training/test_psi.py).
PSEUDO_COUNT = 0.5
CONFIDENCE = 0.99


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of `current` against `reference`, both row counts over the same bins.

    Bins empty on both sides add nothing; the others get PSEUDO_COUNT more rows each.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.shape != cur.shape:
        raise ValueError(f"PSI needs the same bins on both sides ({ref.shape} vs {cur.shape})")
    used = (ref > 0) | (cur > 0)
    if not used.any():
        return 0.0
    ref, cur = ref[used] + PSEUDO_COUNT, cur[used] + PSEUDO_COUNT
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def no_drift_bound(n_reference: int, n_current: int, cells: int,
                   confidence: float = CONFIDENCE) -> float:
    """The PSI that two samples of one population exceed with probability 1 - confidence.

    `cells` is the number of bins either sample can fall in (non-empty in the reference).
    """
    if n_reference <= 0 or n_current <= 0:
        return float("inf")
    freedom = max(cells - 1, 1)
    return float((1 / n_reference + 1 / n_current) * chi2.ppf(confidence, freedom))
