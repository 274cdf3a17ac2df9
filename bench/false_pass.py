"""The pipeline-level false-pass rate on pure noise: every model and the stack judged on 20 random walks.

With m models each tested at α, "some model passes" on noise happens with probability near m·α; the gate's
Holm–Bonferroni correction is meant to keep it at α or below. Prints, over the seeds, the share where any
model had p < α (uncorrected), any was Holm-significant, and any passed the whole gate, with the target 2·α.
Usage: python bench/false_pass.py [--models xgb lgbm lstm xlstm] [--seeds 20] [--days 3000]
Takes about 1 minute per seed on 2 cores with the sequence models, seconds without them."""
import argparse, os, time
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
from stocknb.pipeline import false_pass_rate, PipelineConfig

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--models', nargs='+', default=['xgb', 'lgbm', 'lstm', 'xlstm'])
ap.add_argument('--seeds', type=int, default=20)
ap.add_argument('--days', type=int, default=3000)
ap.add_argument('--csv', default=None, help='also write the per-seed table here')
a = ap.parse_args()
t0 = time.time()
fp = false_pass_rate(tuple(a.models), seeds=range(a.seeds), days=a.days, progress=True)
alpha = PipelineConfig().alpha
print(fp.to_string())
m = int(fp['models'].iloc[0])
print(f"\n{len(fp)} random walks of {a.days} days, {m} models judged each ({', '.join(a.models)} + stack), α = {alpha}:")
for col, what in (('any_p_below_alpha', 'some model p < α (uncorrected)'),
                  ('any_holm_significant', 'some model Holm-significant'), ('any_passed', 'some model passed the gate')):
    print(f"  {what}: {fp[col].mean():.0%} ({int(fp[col].sum())} of {len(fp)})")
print(f"target: pipeline-level false-pass rate ≤ 2α = {2 * alpha:.0%}; expected without correction ≈ "
      f"{1 - (1 - alpha) ** m:.1%}; {time.time() - t0:.0f} s")
if a.csv: fp.to_csv(a.csv)
