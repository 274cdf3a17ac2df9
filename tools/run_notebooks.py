"""Execute every notebook top to bottom as a reader would: outside the test harness (IN_TEST unset, full workloads,
`#| slow` cells included), with `jupyter nbconvert --execute`, into a scratch folder (the committed notebooks are not
touched). Prints each notebook's wall time and the total; exits 1 if any notebook fails.

With --recompute, every long experiment kept by `stocknb.core.stored_tables` (nbs/results/*.json) is rerun at both
sizes (STOCKNB_RECOMPUTE=1), and the files a notebook rewrote are copied back into nbs/results/ once it has passed.

Usage: python tools/run_notebooks.py [NAME ...] [--timeout SECONDS] [--recompute]   (names without .ipynb)"""
import argparse, os, shlex, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from stocknb.core import reference_kernels

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('names', nargs='*', help='notebooks to run (default: every nbs/*.ipynb)')
    ap.add_argument('--timeout', type=int, default=7200, help='seconds allowed per cell (default 7200)')
    ap.add_argument('--recompute', action='store_true', help='rerun the stored experiments and keep their new results')
    a = ap.parse_args()
    nbs = sorted((ROOT/'nbs').glob('*.ipynb'))
    if a.names:
        want = {n.removesuffix('.ipynb') for n in a.names}
        unknown = want - {p.stem for p in nbs}
        if unknown: print(f"error: no notebook(s) {sorted(unknown)} in nbs/", file=sys.stderr); return 2
        nbs = [p for p in nbs if p.stem in want]
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE'); env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env.setdefault('MPLBACKEND', 'Agg'); env.setdefault('PYTHONHASHSEED', '0')
    env['STOCKNB_RECOMPUTE'] = '1' if a.recompute else '0'        # what was asked, not what the shell had
    for w in shlex.split(reference_kernels()):              # the float kernels CI and the stored results use
        k, v = w.split('=', 1); env.setdefault(k, v)
    rows, failed, t_all = [], [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='stocknb-notebooks-') as tmp:
        work = Path(tmp)/'nbs'
        shutil.copytree(ROOT/'nbs', work)                  # relative paths inside the notebooks keep working
        shutil.copy(ROOT/'settings.ini', tmp)              # a project around them (a notebook may call nbdev_export:
        shutil.copytree(ROOT/'stocknb', Path(tmp)/'stocknb')   # it then writes into this scratch copy, not the checkout)
        env.setdefault('STOCKNB_MODELS_DIR', str(Path(tmp)/'models'))
        for p in nbs:
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute',
                                '--inplace', f'--ExecutePreprocessor.timeout={a.timeout}', str(work/p.name)],
                               cwd=work, env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            ok = r.returncode == 0
            rows.append((p.stem, dt, 'ok' if ok else 'FAILED'))
            print(f"{p.stem:<22} {dt:8.0f} s  {'ok' if ok else 'FAILED'}", flush=True)
            if not ok: failed.append(p.stem); print(r.stderr[-3000:], file=sys.stderr)
            if ok and a.recompute: _keep_results(work/'results', ROOT/'nbs'/'results')
    total = time.perf_counter() - t_all
    print(f"{len(rows)} notebook(s) in {total / 60:.1f} min; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0

def _keep_results(src:Path, dst:Path):
    "Copy the result files a notebook rewrote (differing bytes) from the scratch copy into the checkout."
    for f in sorted(src.glob('*.json')) if src.is_dir() else []:
        if not (dst/f.name).exists() or (dst/f.name).read_bytes() != f.read_bytes():
            dst.mkdir(exist_ok=True); shutil.copy(f, dst/f.name); print(f"  kept {f.name}", flush=True)

if __name__ == '__main__': sys.exit(main())
