"""The main job on the bundled AAPL with every model and the stack, `stocknb run --symbol AAPL --models xgb lgbm lstm
xlstm --stacking`, run with another commit's code (a git worktree) and with this checkout's, one after the other in
the same run: wall seconds, peak memory of the command's largest process and of all its processes together (fold
workers), its exit code (3: the gate refused every model).

    python bench/full_run.py --before 8fb2f8a          # the issue 24 baseline, then this checkout
    python bench/full_run.py --before HEAD --quick     # xgb alone, validation only: checks that it runs
    python bench/full_run.py --before 03b28e5 --before-python ../tfvenv/bin/python   # before: on TensorFlow

This checkout runs twice on one empty folder for JAX's compiled programs: 'cold' (a machine's first run) and then
with it filled (every later run). A commit from before 2026-12 runs on TensorFlow, which stocknb no longer
installs: --before-python names an interpreter whose environment has it.

Issue 24's target: ≤ 3 minutes on 2 cores, measured with nothing else running."""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = ['--models', 'xgb', 'lgbm', 'lstm', 'xlstm', '--stacking']
QUICK = ['--models', 'xgb', '--validate-only']

def _tree_rss(pid:int) -> int:
    "Resident bytes of process `pid` and every live descendant (fold workers included), 0 once it is gone."
    import psutil
    try: ps = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error: return 0
    total = 0
    for q in ps:
        try: total += q.memory_info().rss
        except psutil.Error: pass
    return total

def child(args:list) -> dict:
    """Run the command in a fresh process; its seconds, the peak resident memory of its largest process, and the
    peak of its whole process tree (the command and its worker processes together, sampled every 0.2 s)."""
    with tempfile.TemporaryDirectory() as out:
        t0, peak = time.perf_counter(), 0
        p = subprocess.Popen([sys.executable, '-m', 'stocknb.cli', 'run', '--symbol', 'AAPL', *args, '--models-dir', out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out)
        import threading
        def watch():
            nonlocal peak
            while p.poll() is None: peak = max(peak, _tree_rss(p.pid)); time.sleep(0.2)
        w = threading.Thread(target=watch, daemon=True); w.start()
        so, se = p.communicate(); s = time.perf_counter() - t0; w.join()
    return {'seconds': s, 'peak_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            'tree_peak_mib': peak / 2**20, 'exit': p.returncode, 'tail': so[-400:] + se[-400:],
            'report': so}

def _side(tree:Path, args:list, python:str=sys.executable, **env) -> dict:
    "One measurement in its own interpreter (`python`, with `env` added), importing stocknb from `tree`."
    env = os.environ | {'PYTHONPATH': str(tree), 'OMP_WAIT_POLICY': 'PASSIVE', 'TF_CPP_MIN_LOG_LEVEL': '2'} | env
    code = f"import json, sys; sys.path.insert(0, {str(ROOT/'bench')!r}); from full_run import child; " \
           f"print(json.dumps(child({args!r})))"
    r = subprocess.run([python, '-c', code], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    if r.returncode or not rows: sys.exit(f"the run on {tree} failed:\n{r.stderr[-3000:]}")
    if rows[0]['exit'] not in (0, 3): sys.exit(f"the command on {tree} exited {rows[0]['exit']}:\n{rows[0]['tail']}")
    return rows[0]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--before', default='HEAD', help='the commit to compare with (default HEAD)')
    p.add_argument('--quick', action='store_true', help='xgb alone, validation only')
    p.add_argument('--before-python', default=sys.executable, help='the interpreter of the before side')
    p.add_argument('--before-backend', default='tensorflow', help="Keras backend of the before side (default: "
                   "tensorflow, stocknb's before 2026-12; this checkout runs on its default, JAX)")
    a = p.parse_args()
    args = QUICK if a.quick else FULL
    from _worktree import worktree       # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    with worktree(a.before) as (sha, wt), tempfile.TemporaryDirectory() as cache:
        before = _side(wt, args, a.before_python, KERAS_BACKEND=a.before_backend)
        cold = _side(ROOT, args, STOCKNB_CACHE_DIR=cache)         # JAX's compiled programs: none yet
        after = _side(ROOT, args, STOCKNB_CACHE_DIR=cache)        # the same folder, filled by the cold run
    print(f"stocknb run --symbol AAPL {' '.join(args)}; {os.cpu_count()} cores")
    for name, r in ((f'{sha} ({a.before_backend})', before), ('this, cold', cold), ('this checkout', after)):
        print(f"{name:<22}{r['seconds']:>8.1f} s{r['peak_mib']:>8.0f} MiB peak (largest process)"
              f"{r['tree_peak_mib']:>8.0f} MiB peak (all its processes)   exit {r['exit']}")
    same = bool(before['report']) and before['report'] == after['report']
    print(f"the printed reports (every model's accuracy, p-value, WFE, Sharpe, gate) are the same: {same} "
          f"(before and after); {cold['report'] == after['report']} (cold and filled cache)")
    print(after['report'][-2500:])
    from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    report('full_run', f"seconds, {sha} / this checkout", before['seconds'] / after['seconds'], 1.0)
    if not a.quick: report('full_run', 'seconds of the full AAPL run (target ≤ 180)', after['seconds'], 180.0,
                           'lower', unit='s')

if __name__ == '__main__': main()
