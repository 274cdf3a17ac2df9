"""The main job on the bundled AAPL with every model and the stack, `stocknb run --symbol AAPL --models xgb lgbm lstm
xlstm --stacking`, run with another commit's code (a git worktree) and with this checkout's, one after the other in
the same run: wall seconds, peak memory of the command's largest process and of all its processes together (fold
workers), its exit code (3: the gate refused every model).

    python bench/full_run.py --before 8fb2f8a          # the issue 24 baseline, then this checkout
    python bench/full_run.py --before HEAD --quick     # xgb alone, validation only: checks that it runs

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

def _side(tree:Path, args:list) -> dict:
    "One measurement in its own interpreter, importing stocknb from `tree`."
    env = os.environ | {'PYTHONPATH': str(tree), 'OMP_WAIT_POLICY': 'PASSIVE', 'TF_CPP_MIN_LOG_LEVEL': '2'}
    code = f"import json, sys; sys.path.insert(0, {str(ROOT/'bench')!r}); from full_run import child; " \
           f"print(json.dumps(child({args!r})))"
    r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    if r.returncode or not rows: sys.exit(f"the run on {tree} failed:\n{r.stderr[-3000:]}")
    if rows[0]['exit'] not in (0, 3): sys.exit(f"the command on {tree} exited {rows[0]['exit']}:\n{rows[0]['tail']}")
    return rows[0]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--before', default='HEAD', help='the commit to compare with (default HEAD)')
    p.add_argument('--quick', action='store_true', help='xgb alone, validation only')
    a = p.parse_args()
    args = QUICK if a.quick else FULL
    from _worktree import worktree       # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    with worktree(a.before) as (sha, wt): before, after = _side(wt, args), _side(ROOT, args)
    print(f"stocknb run --symbol AAPL {' '.join(args)}; {os.cpu_count()} cores")
    for name, r in ((sha, before), ('this checkout', after)):
        print(f"{name:<15}{r['seconds']:>8.1f} s{r['peak_mib']:>8.0f} MiB peak (largest process)"
              f"{r['tree_peak_mib']:>8.0f} MiB peak (all its processes)   exit {r['exit']}")
    same = bool(before['report']) and before['report'] == after['report']
    print(f"the printed reports (every model's accuracy, p-value, WFE, Sharpe, gate) are the same: {same}")
    from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    report('full_run', f"seconds, {sha} / this checkout", before['seconds'] / after['seconds'], 1.0)
    if not a.quick: report('full_run', 'seconds of the full AAPL run (target ≤ 180)', after['seconds'], 180.0,
                           'lower', unit='s')

if __name__ == '__main__': main()
