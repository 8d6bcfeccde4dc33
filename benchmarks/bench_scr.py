"""SCR benchmark: 1,000 risks x 100,000 scenarios, and accuracy against the
exact FFT aggregate on an independent case.

Run: .venv/bin/python benchmarks/bench_scr.py

Timed: simulate (sparse common-shock sampler) + assess (SCR/MCR per pool and
the group view), for independent and correlated risks, with both estimators:
importance sampling towards the 99.5 % tail (the default) and plain Monte
Carlo (``importance=None``). Baseline in the same run: a dense sampler (one
uniform per risk per scenario, chunked), which is what a straightforward
vectorisation does. Accuracy: VaR99.5 of one 1,000-risk pool against the exact
FFT aggregate over 10 seeds, both estimators, plus the spread of the 20 pools'
SCRs over seeds. Targets: <= 1 s; |VaR error| vs FFT <= 0.5 % on every seed.
"""

from __future__ import annotations

import time

import numpy as np

from reinsurance import Correlation, PoolCapital, Risk, assess, exact_aggregate, simulate
from reinsurance.solvency import var, weighted_mean

USDC = 1_000_000
N_RISKS = 1_000
N_SCEN = 100_000


def make_risks(n: int, *, pools: int, seed: int) -> list[Risk]:
    rng = np.random.default_rng(seed)
    return [
        Risk(
            risk_id=f"r{i}",
            protocol=f"proto{i % 100}",
            chain=f"chain{i % 10}",
            pool_id=f"pool{i % pools:02d}",
            exposure=int(rng.lognormal(np.log(5e5), 1.0)) * USDC,
            probability=float(rng.uniform(0.005, 0.05)),
            severity_alpha=float(rng.choice([1.5, 2.0, 3.0])),
            severity_beta=float(rng.choice([3.0, 5.0, 8.0])),
        )
        for i in range(n)
    ]


def dense_baseline(risks: list[Risk], n: int, seed: int, chunk: int = 10_000) -> np.ndarray:
    """One uniform per risk and scenario; severities only where hit."""
    rng = np.random.default_rng(seed)
    p = np.array([r.probability for r in risks])
    e = np.array([r.exposure for r in risks], dtype=float)
    a = np.array([r.severity_alpha for r in risks])
    b = np.array([r.severity_beta for r in risks])
    out = np.zeros(n)
    for s0 in range(0, n, chunk):
        s1 = min(s0 + chunk, n)
        hit = rng.random((s1 - s0, len(risks))) < p
        rows, cols = np.nonzero(hit)
        loss = rng.beta(a[cols], b[cols]) * e[cols]
        out[s0:s1] = np.bincount(rows, weights=loss, minlength=s1 - s0)
    return out


def timed(fn, reps: int = 3):  # type: ignore[no-untyped-def]
    best = float("inf")
    result = None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


ESTIMATORS = (("importance", 0.995), ("plain", None))


def main() -> None:
    print(f"== SCR: {N_RISKS:,} risks x {N_SCEN:,} scenarios, 20 pools (best of 3)")
    risks = make_risks(N_RISKS, pools=20, seed=1)
    capital = [PoolCapital(f"pool{k:02d}", 10**7 * USDC, 10**8 * USDC) for k in range(20)]
    correlations = (
        ("independent", Correlation()),
        ("correlated (protocol 0.4, market 0.2)", Correlation(0.4, 0.2, 0.05)),
    )
    for label, corr in correlations:
        for name, imp in ESTIMATORS:
            sim_t, sample = timed(
                lambda c=corr, i=imp: simulate(risks, N_SCEN, seed=7, correlation=c, importance=i)
            )
            scr_t, report = timed(lambda s=sample: assess(s, capital))
            g = report.group
            print(
                f"{label:<38} {name:<10} simulate {sim_t:6.3f} s + SCR {scr_t:6.3f} s "
                f"= {sim_t + scr_t:6.3f} s; sum SCR {g.sum_scr / USDC:,.0f}, "
                f"group SCR {g.group_scr / USDC:,.0f}, "
                f"diversification {g.diversification_benefit / max(g.sum_scr, 1):.1%}"
            )
    base_t, _ = timed(lambda: dense_baseline(risks, N_SCEN, seed=7), reps=1)
    sparse_t, _ = timed(lambda: simulate(risks, N_SCEN, seed=7, importance=None), reps=1)
    print(
        f"dense baseline sampler {base_t:.3f} s; sparse sampler (plain) {sparse_t:.3f} s "
        f"(ratio {sparse_t / base_t:.2f}x)"
    )
    print("target: simulate + SCR <= 1 s")

    print("== spread of SCRs over 5 seeds (coefficient of variation, mean over pools)")
    for label, corr in correlations:
        for name, imp in ESTIMATORS:
            reps = [
                assess(simulate(risks, N_SCEN, seed=s, correlation=corr, importance=imp), capital)
                for s in range(31, 36)
            ]
            scr = np.array([[p.scr for p in r.pools] for r in reps], dtype=float)
            grp = np.array([r.group.group_scr for r in reps], dtype=float)
            print(
                f"{label:<38} {name:<10} pool SCR cv {np.mean(scr.std(0) / scr.mean(0)):.3%}, "
                f"group SCR cv {grp.std() / grp.mean():.3%}"
            )

    print(
        f"== accuracy vs exact FFT: one pool, {N_RISKS:,} independent risks, {N_SCEN:,} scenarios"
    )
    one_pool = make_risks(N_RISKS, pools=1, seed=2)
    t = time.perf_counter()
    exact = exact_aggregate(one_pool, grid=1 << 15)
    fft_t = time.perf_counter() - t
    exact_var = exact.quantile(0.995)
    mean = sum(r.exposure * r.probability * r.severity_mean for r in one_pool)
    print(
        f"FFT ({fft_t:.2f} s): VaR99.5 {exact_var / USDC:,.0f}, mean {exact.mean() / USDC:,.0f} "
        f"(closed form {mean / USDC:,.0f}), grid step {exact.step / USDC:,.0f}"
    )
    for name, imp in ESTIMATORS:
        errs = []
        mean_errs = []
        cv_errs = []
        took = 0.0
        for seed in range(11, 21):
            t = time.perf_counter()
            s = simulate(one_pool, N_SCEN, seed=seed, importance=imp)
            loss, w = s.pool_losses(0), s.pool_weights(0)
            v = var(loss, 0.995, None if imp is None else w)
            took += time.perf_counter() - t
            errs.append(v / exact_var - 1)
            mean_errs.append(float((loss * w).sum()) / loss.size / mean - 1)
            cv_errs.append(weighted_mean(loss, None if imp is None else w) / mean - 1)
        abs_errs = np.abs(errs)
        print(
            f"  {name:<10} ({took / 10:.3f} s per run) errors: "
            + " ".join(f"{e:+.3%}" for e in errs)
        )
        print(
            f"  {name:<10} VaR99.5 error over 10 seeds: mean {np.mean(errs):+.3%} (bias), "
            f"sd {np.std(errs):.3%}, max |error| {abs_errs.max():.3%}; "
            f"within 0.5 %: {(abs_errs <= 0.005).sum()}/10; "
            f"mean-loss error vs closed form: mean(x*w) sd {np.std(mean_errs):.3%} "
            f"max |error| {np.max(np.abs(mean_errs)):.3%}; as assess reports it "
            f"(control variate) mean {np.mean(cv_errs):+.3%} sd {np.std(cv_errs):.3%} "
            f"max |error| {np.max(np.abs(cv_errs)):.3%}"
        )
    print("target: VaR error <= 0.5 % on every seed (plain MC at 100k has ~0.45 % sd)")


if __name__ == "__main__":
    main()
