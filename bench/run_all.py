"""Run every benchmark under bench/ that has a target and print one table: each measured ratio against its target.

    python bench/run_all.py            # all of them (about 4 minutes on 2 cores; backtest needs the bench extra)
    python bench/run_all.py --quick    # smaller sizes: checks that every benchmark runs (a few minutes)

Each benchmark prints `BENCH {...}` lines (bench/_report.py); this script runs each in its own process, collects
those lines, and prints the table with the date, the machine and the load average. A benchmark that fails or cannot
run (a missing extra) is a row saying so. Exit code 1 if any target is missed or any benchmark failed."""
import argparse, json, os, platform, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {   # name: (full arguments, --quick arguments)
    'features': ([], ['--rows', '2000', '--symbols', '4', '--repeat', '1']),
    'backtest': ([], ['--bars', '100000', '--bt-bars', '5000', '--repeat', '2']),
    'forward_sim': ([], ['--days', '30']),
    'sequence': ([], ['--quick']),
    'universe': ([], ['--days', '1500']),
    'panel': ([], ['--quick']),
}

def run(name:str, args:list) -> tuple:
    "Run one benchmark; its BENCH rows, wall seconds, and an error line (or '')."
    env = {**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE', 'TF_CPP_MIN_LOG_LEVEL': '2', 'MPLBACKEND': 'Agg'}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(HERE/f'{name}.py'), *args], capture_output=True, text=True, env=env)
    rows = [json.loads(l[6:]) for l in r.stdout.splitlines() if l.startswith('BENCH ')]
    err = '' if r.returncode == 0 else (r.stderr.strip().splitlines() or ['failed'])[-1][:160]
    return rows, time.perf_counter() - t0, err

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='smaller sizes (ratios are less meaningful)')
    ap.add_argument('names', nargs='*', help=f"benchmarks to run (default: all of {', '.join(BENCHES)})")
    a = ap.parse_args()
    names = a.names or list(BENCHES)
    bad = [n for n in names if n not in BENCHES]
    if bad: print(f"error: unknown benchmark(s) {bad}; known: {list(BENCHES)}", file=sys.stderr); return 2
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.node()} · {platform.processor() or platform.machine()}"
          f" · {os.cpu_count()} CPUs · Python {platform.python_version()}{' · --quick' if a.quick else ''}", flush=True)
    table, failed = [], []
    for n in names:
        rows, secs, err = run(n, BENCHES[n][1 if a.quick else 0])
        print(f"  ran {n} in {secs:.0f} s{'  FAILED: ' + err if err else ''}", flush=True)
        if err or not rows: failed.append(n); table.append((n, err or 'printed no BENCH line', '', '', 'FAILED'))
        for r in rows:
            sign = '≥' if r['better'] == 'higher' else '≤'
            unit = r['unit'] if r['unit'] != '×' else '×'
            table.append((r['bench'], r['measure'], f"{r['value']:.2f}{unit}", f"{sign} {r['target']:g}{unit}",
                          'ok' if r['ok'] else 'MISSED'))
    w = [max(len(str(row[i])) for row in table + [('bench', 'measure', 'value', 'target', 'status')]) for i in range(5)]
    head = ('bench', 'measure', 'value', 'target', 'status')
    print('\n' + '  '.join(h.ljust(w[i]) for i, h in enumerate(head)))
    for row in table: print('  '.join(str(c).ljust(w[i]) for i, c in enumerate(row)))
    print(f"load average at end {os.getloadavg()[0]:.2f} (a shared machine moves timings by tens of percent)")
    return 1 if failed or any(r[-1] == 'MISSED' for r in table) else 0

if __name__ == '__main__': sys.exit(main())
