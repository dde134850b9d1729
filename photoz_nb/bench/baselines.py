"""``photoz-nb bench baselines``: our photometric baselines against plain scikit-learn, same features."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import KNeighborsRegressor

from ..baselines import PhotometricBaseline, photometric_features, real_catalog
from .common import _machine, _sig, _step, markdown_table


def baseline_timings(train, val, test, methods=("knn", "rf"), seed: int = 0) -> list[dict]:
    """Fit and predict time and peak memory of our baselines and of plain scikit-learn on the same features.

    Ours: :class:`photoz_nb.baselines.PhotometricBaseline` (fit includes the kernel-width search on
    ``val``; predict builds the PDFs).  scikit-learn: ``KNeighborsRegressor(k)`` on the same
    standardised features, ``RandomForestRegressor`` with the same trees, leaf size and seed: point
    predictions only.  The ratio column is ours / sklearn.
    """
    x_train, x_test = photometric_features(train), photometric_features(test)
    z_train = np.asarray(train["z_spec"], float)
    rows = []
    for method in methods:
        ours = PhotometricBaseline(method, seed=seed)
        _, fit_s, fit_mib = _step(lambda: ours.fit(train, val))
        _, pred_s, pred_mib = _step(lambda: ours.predict_pdfs(test))
        if method == "knn":
            sk = KNeighborsRegressor(n_neighbors=ours.k)
            xs_train, xs_test = ours._standardise(x_train), ours._standardise(x_test)
        else:
            sk = RandomForestRegressor(n_estimators=ours.n_trees, min_samples_leaf=5, random_state=seed, n_jobs=-1)
            xs_train, xs_test = x_train, x_test
        _, sk_fit_s, sk_fit_mib = _step(lambda: sk.fit(xs_train, z_train))
        _, sk_pred_s, sk_pred_mib = _step(lambda: sk.predict(xs_test))
        rows.append({"method": method, "n_train": len(train), "n_val": len(val), "n_test": len(test),
                     "fit s (ours)": _sig(fit_s), "fit s (sklearn)": _sig(sk_fit_s), "fit ratio": _sig(fit_s / sk_fit_s),
                     "predict s (ours)": _sig(pred_s), "predict s (sklearn)": _sig(sk_pred_s),
                     "predict ratio": _sig(pred_s / sk_pred_s),
                     "fit+predict ratio": _sig((fit_s + pred_s) / (sk_fit_s + sk_pred_s)),
                     "peak MiB fit (ours / sklearn)": f"{fit_mib:.0f} / {sk_fit_mib:.0f}",
                     "peak MiB predict (ours / sklearn)": f"{pred_mib:.0f} / {sk_pred_mib:.0f}"})
    return rows


def bench_baselines(seed: int = 20190101, show: bool = True) -> list[dict]:
    """:func:`baseline_timings` on the real MGS catalogue (the README's split: seed 20190101, 72/8/20)."""
    cat = real_catalog(seed=seed)
    split = np.asarray(cat["split"]).astype(str)
    rows = baseline_timings(*(cat[split == s] for s in ("train", "val", "test")), seed=seed)
    if show:
        print(f"Photometric baselines vs plain scikit-learn, real MGS catalogue ({_machine()}):\n")
        print(markdown_table(rows))
    return rows
