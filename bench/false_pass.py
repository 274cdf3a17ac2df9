"""The pipeline-level false-pass rate on data with nothing to predict: every model and the stack judged per series.

With m models each tested at α, "some model passes" on noise happens with probability near m·α; the gate's
Holm–Bonferroni correction is meant to keep it at α or below. Two placebos: random walks, and the real days of the
bundled symbols in random order (`data.shuffled_days`: drift and up-share kept, timing gone — the one a coin's test
falls for). Prints, per placebo, the share of series where any model had p < α (uncorrected), any was
Holm-significant, and any passed the whole gate (target ≤ 2α) — for the gate's Pesaran–Timmermann test and, for
comparison, for the coin's binomial test the gate used before.
Usage: python bench/false_pass.py [--models xgb lgbm lstm xlstm] [--seeds 20] [--days 3000]
                                  [--placebo 'random walk' 'shuffled days'] [--csv FILE]
Takes 5 to 6 minutes per series on 2 cores with the sequence models (about 4 hours for both placebos), under
half a minute without them. With --csv, each series' row is written as soon as it is done, and a rerun with the same
--csv skips the series already there, so an interrupted run resumes where it stopped."""
import argparse, os, time
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import pandas as pd
from stocknb.pipeline import PipelineConfig
from stocknb.honesty import false_pass_rate

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--models', nargs='+', default=['xgb', 'lgbm', 'lstm', 'xlstm'])
ap.add_argument('--seeds', type=int, default=20)
ap.add_argument('--days', type=int, default=3000, help='days per random walk (shuffled days: each symbol its own)')
ap.add_argument('--placebo', nargs='+', default=['random walk', 'shuffled days'], choices=['random walk', 'shuffled days'])
ap.add_argument('--csv', default=None, help='also write the per-seed table here')
a = ap.parse_args()
t0, alpha = time.time(), PipelineConfig().alpha
done = pd.read_csv(a.csv) if a.csv and os.path.exists(a.csv) else pd.DataFrame(columns=['placebo', 'seed'])
for placebo in a.placebo:
    have = set(done.loc[done['placebo'] == placebo, 'seed'].astype(int))
    for s in [s for s in range(a.seeds) if s not in have]:
        row = false_pass_rate(tuple(a.models), seeds=[s], days=a.days, placebo=placebo).assign(placebo=placebo)
        done = pd.concat([done, row.reset_index()], ignore_index=True)
        if a.csv: done.to_csv(a.csv + '.tmp', index=False); os.replace(a.csv + '.tmp', a.csv)
        print(f"{placebo} {s}: min p {row['min_p'].iloc[0]:.3f}, passed: {row['passed'].iloc[0] or 'none'}; "
              f"{time.time() - t0:.0f} s", flush=True)
    fp = done[done['placebo'] == placebo].set_index('seed').sort_index().loc[list(range(a.seeds))]
    for col in [c for c in fp.columns if c.startswith('any_')]: fp[col] = fp[col].astype(str).eq('True')
    print(fp.to_string())
    m = int(fp['models'].iloc[0])
    print(f"\n{placebo}: {len(fp)} series, {m} models judged each ({', '.join(a.models)} + stack), α = {alpha}:")
    for col, what in (('any_p_below_alpha', 'some model p < α (Pesaran–Timmermann, uncorrected)'),
                      ('any_holm_significant', 'some model Holm-significant (Pesaran–Timmermann)'),
                      ('any_passed', 'some model passed the gate'),
                      ('any_coin_below_alpha', "some model p < α (the coin's binomial test, uncorrected)"),
                      ('any_coin_holm_significant', "some model Holm-significant (the coin's test)")):
        print(f"  {what}: {fp[col].mean():.0%} ({int(fp[col].sum())} of {len(fp)})")
    print(f"target: pipeline-level false-pass rate ≤ 2α = {2 * alpha:.0%}; expected without correction ≈ "
          f"{1 - (1 - alpha) ** m:.1%}; {time.time() - t0:.0f} s so far")
