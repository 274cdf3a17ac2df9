"""Hostile input as a user meets it: each case one real `python -m stocknb.cli ...` subprocess in a fresh world.

    python bench/hostile.py                          # every case (a few minutes; more on busy cores)
    python bench/hostile.py --only dask-web k-0      # some cases (names: --help)
    python bench/hostile.py --csv rows.csv > hostile.md

A world is a temporary folder holding models/ ($STOCKNB_MODELS_DIR), cache/ ($STOCKNB_CACHE_DIR), home/ ($HOME) and
data/; the command runs there with OMP_WAIT_POLICY=PASSIVE, TF_CPP_MIN_LOG_LEVEL=3 and a 600 s limit. Prints `uptime`,
then a Markdown table (case | command | exit code | what it says | seconds), then `uptime` again; progress goes to
stderr. Seconds marked * ran while the 1-minute load average was at or above the number of cores. The cases that need
a trained model share one `stocknb run --skip-gate` (a row of its own). As root, the permission cases drop
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH with capsh, since chmod does not stop root. Imports nothing from tests/."""
import argparse, csv, functools, hashlib, http.server, os, re, shlex, shutil, signal, socket, subprocess, sys
import tempfile, threading, time
from contextlib import contextmanager
from pathlib import Path

TIMEOUT, CORES, SYMS = 600, os.cpu_count() or 1, 'AAPL,MSFT,IBM,GOOG'
BASE = Path(tempfile.gettempdir())                          # main() makes the run's own folder in it
SETUP = []                                                   # (name, run) of the shared training run, once
short = lambda s: re.sub(re.escape(str(BASE)) + r'/[^/\s\'"]+', '…', s)

# ---------------------------------------------------------------- processes
def descendants(pid:int) -> dict:
    "pid -> command line of every live descendant of `pid` (psutil when installed, else /proc)."
    try: import psutil
    except ImportError: psutil = None
    if psutil:
        try: kids, out = psutil.Process(pid).children(recursive=True), {}
        except psutil.Error: return {}
        for c in kids:
            try: out[c.pid] = ' '.join(c.cmdline())
            except psutil.Error: pass
        return out
    def read(f:Path, default:str) -> str:
        try: return f.read_bytes().decode()
        except OSError: return default
    ppid = {d.name: read(d/'stat', ') ? ?').rsplit(')', 1)[1].split()[1] for d in Path('/proc').glob('[0-9]*')}
    out, todo = {}, [str(pid)]
    while todo:
        q = todo.pop()
        for c in [c for c, p in ppid.items() if p == q]:
            out[int(c)] = read(Path('/proc', c, 'cmdline'), '').replace('\0', ' ').strip(); todo.append(c)
    return out

def workers(pid:int, parent_cmd:str) -> set:
    "The worker processes: not the resource trackers, nor a fork that has not exec'd yet."
    return {p for p, c in descendants(pid).items() if c and 'resource_tracker' not in c and c != parent_cmd}

def alive(pid:int) -> bool:
    try: return (Path('/proc')/str(pid)/'stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError): return False

def snapshot(top:Path) -> dict:
    return {p.relative_to(top).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else 'dir'
            for p in sorted(top.rglob('*')) if not p.is_symlink()}

# ---------------------------------------------------------------- one run
def world(name:str) -> Path:
    for d in ('models', 'cache', 'home', 'data'): (BASE/name/d).mkdir(parents=True)
    return BASE/name

def env(w:Path) -> dict:
    return os.environ | {'STOCKNB_MODELS_DIR': str(w/'models'), 'STOCKNB_CACHE_DIR': str(w/'cache'),
                         'HOME': str(w/'home'), 'OMP_WAIT_POLICY': 'PASSIVE', 'TF_CPP_MIN_LOG_LEVEL': '3',
                         'MPLBACKEND': 'Agg'}

def run(w:Path, *args, drop=False, watch=False, pick=None) -> dict:
    "`stocknb ARGS` ('{w}': the world) in a fresh process; `drop`: without DAC capabilities; `watch`: count workers."
    args = [str(a).format(w=w) for a in args]
    cmd, shown = [sys.executable, '-m', 'stocknb.cli', *args], shlex.join(['stocknb', *args])
    if drop and os.geteuid() == 0:
        shown = '[capsh: no DAC caps] ' + shown
        if not shutil.which('capsh'): return dict(code='skip', out='', err='root, and no capsh here', secs=0, cmd=shown)
        cmd = [shutil.which('capsh'), '--drop=cap_dac_override,cap_dac_read_search', '--', '-c', shlex.join(cmd)]
    t0, most, late = time.perf_counter(), 0, False
    p = subprocess.Popen(cmd, cwd=w, env=env(w), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        try: out, err = p.communicate(timeout=0.2); break
        except subprocess.TimeoutExpired:
            if watch: most = max(most, len(workers(p.pid, ' '.join(cmd))))
            if time.perf_counter() - t0 > TIMEOUT:
                late = True
                for q in [*descendants(p.pid), p.pid]:
                    try: os.kill(q, signal.SIGKILL)
                    except OSError: pass
    return dict(code='timed out' if late else p.returncode, out=out, err=err, secs=time.perf_counter() - t0, cmd=shown,
                most=most, pick=pick, late=late)

def says(r:dict) -> str:
    "The last stderr line (else stdout's), or for exit 0 the first stdout line holding `pick` (else 'warning')."
    out, err = ([l.strip() for l in r[k].splitlines() if l.strip()] for k in ('out', 'err'))
    if r.get('note'): text = r['note']
    elif r['code'] == 0 and out:
        picked = [l for l in out if r.get('pick') and r['pick'] in l] or [l for l in out if 'warning' in l]
        text = (picked or out)[0]
    else: text = (err or out or ['(nothing)'])[-1]
    text = ('TRACEBACK; ' if 'Traceback' in r['err'] else '') + ('timed out; ' if r.get('late') else '') + short(text)
    return text if len(text) <= 140 else text[:139] + '…'

# ---------------------------------------------------------------- data, the trained model, listeners
def planted(f:Path, n=1500, seed=21, phi=0.25):
    from stocknb.data import planted_signal_ohlcv
    planted_signal_ohlcv(n, phi=phi, seed=seed).to_csv(f, index_label='Date', float_format='%.6f')

def good_csv(d:Path, name='GOOD'):
    from stocknb.data import load_ohlcv
    load_ohlcv('AAPL').to_csv(d/f'{name}.csv', index_label='Date', float_format='%.6f')

@functools.cache
def trained() -> Path:
    "A world whose root holds a production xgb model for PL (trained once, gate skipped) and data/planted.csv."
    w = world('setup-trained'); planted(w/'data'/'planted.csv')
    r = run(w, 'run', '--symbol', 'PL', '--source', 'csv', '--path', '{w}/data/planted.csv', '--models', 'xgb',
            '--skip-gate', pick='saved')
    SETUP.append(('setup: train PL', r))
    if r['code'] != 0: raise RuntimeError(f"the shared training run failed: {says(r)}")
    return w

def with_model(w:Path) -> Path:
    shutil.copytree(trained()/'models', w/'models', dirs_exist_ok=True)
    shutil.copy(trained()/'data'/'planted.csv', w/'data'/'planted.csv')
    return w

PREDICT = ('predict', '--symbol', 'PL', '--source', 'csv', '--path', '{w}/data/planted.csv')

def forged(edit):
    "A case: predict from a copy of the trained model whose manifest was changed by `edit`, then rehashed."
    def f(w):
        from stocknb.artifacts import read_json, write_json, json_sha256
        p = with_model(w)/'models'/'PL'/'manifest.json'; m = read_json(p); edit(m)
        write_json(p, m | {'manifest_sha256': json_sha256({k: v for k, v in m.items() if k != 'manifest_sha256'})})
        return run(w, *PREDICT)
    return f

def free_port() -> int:
    with socket.create_server(('127.0.0.1', 0)) as s: return s.getsockname()[1]

@contextmanager
def answering(kind:str):
    "host:port of a real local listener: refused (none), garbage (a 3.4 EiB length), silent, or a web server."
    if kind == 'refused': yield f'127.0.0.1:{free_port()}'; return
    if kind == 'web':
        web = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        try: yield f'127.0.0.1:{web.server_address[1]}'
        finally: web.shutdown(); web.server_close()
        return
    reply = {'garbage': b'\xff' * 7 + b'\x2f' + b'x' * 64, 'silent': b''}[kind]
    srv, stop, held = socket.create_server(('127.0.0.1', 0)), threading.Event(), []
    srv.settimeout(0.1)
    def loop():
        while not stop.is_set():
            try: c, _ = srv.accept(); held.append(c); c.sendall(reply)
            except OSError: pass
        for c in held: c.close()
    threading.Thread(target=loop, daemon=True).start()
    try: yield f'127.0.0.1:{srv.getsockname()[1]}'
    finally: stop.set(); time.sleep(0.15); srv.close()

# ---------------------------------------------------------------- the cases: each a function of a fresh world
def n_jobs_1000(backend, w):
    r = run(w, 'universe', '--symbols', SYMS, '--models', 'xgb', '--n-jobs', '1000', '--backend', backend, watch=True)
    m = re.search(r'(\d+ [\w -]+?processes)[^(]*(n_jobs=.*)\)', r['out'].splitlines()[0] if r['out'] else '')
    r['note'] = f"max {r['most']} workers alive at once; " + (f'{m[1]}: {m[2]}' if m else says(r))
    return r

def dask_address(kind, w):
    with answering(kind) as hp:
        return run(w, 'universe', '--backend', 'dask', '--address', f'tcp://{hp}', '--models', 'xgb', '--train')

def dask_no_workers(w):
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=0, processes=False, scheduler_port=0, host='127.0.0.1', protocol='tcp',
                      dashboard_address=None) as lc:
        return run(w, 'universe', '--backend', 'dask', '--address', lc.scheduler_address, '--models', 'xgb')

def data_dir(make, drop=False):
    "A case: `universe --train` on data/, holding what `make` puts there."
    def f(w):
        make(w/'data')
        return run(w, 'universe', '--data-dir', '{w}/data', '--models', 'xgb', '--train', drop=drop)
    return f

def locked(d): good_csv(d, 'OPEN'); good_csv(d, 'LOCKED'); (d/'LOCKED.csv').chmod(0)

def semicolon(decimal, w):
    "1000 planted bars priced in thousands, written as in Europe: ';' between columns, '.' between thousands."
    from stocknb.data import planted_signal_ohlcv
    df, px = planted_signal_ohlcv(1000, phi=0.2, seed=3), ['Open', 'High', 'Low', 'Close']
    df[px] = (df[px] * (1500 / df[px].min().min())).round()
    for c in px: df[c] = df[c].map(lambda v: f'{int(v):,}'.replace(',', '.'))        # 1500 -> '1.500'
    df.astype({'Volume': int}).to_csv(w/'data'/'eu.csv', sep=';', index_label='Date')
    r = run(w, 'run', '--symbol', 'EU', '--source', 'csv', '--path', '{w}/data/eu.csv', '--models', 'xgb',
            '--validate-only', *(['--decimal', decimal] if decimal else []))
    if r['out'] and not r['err']: r['note'] = f"{r['out'].splitlines()[0].split(';')[0]} … {says(r)}"
    return r

def broken_history(w):
    with_model(w); (w/'models'/'.stocknb'/'history'/'PL.json').write_text('[{"id": ')
    return run(w, *PREDICT, pick='validation history')

def mixed_offsets(w):
    "The last row's UTC date (2020-01-07) is not its local one (2020-01-06)."
    (w/'data'/'f.csv').write_text('Date,Open,High,Low,Close,Volume\n2020-01-02+00:00,1,2,0.5,1.5,10\n'
                                  '2020-01-03-05:00,1,2,0.5,1.5,10\n2020-01-06 20:00:00-05:00,1,2,0.5,1.5,10\n')
    return run(w, 'data', '--source', 'csv', '--path', '{w}/data/f.csv', pick='last date')

def kill_9(w):
    "`universe --train` on 4 planted symbols, killed once a symbol is saved; then its workers and the root watched."
    for i in range(4): planted(w/'data'/f'P{i}.csv', seed=41 + i, phi=0.3)
    args = ['universe', '--data-dir', str(w/'data'), '--models', 'xgb', '--train', '--n-jobs', '2']
    cmd = [sys.executable, '-m', 'stocknb.cli', *args]
    saved = lambda: [m for m in (w/'models').glob('*/manifest.json') if not m.parent.name.startswith('.')]
    with open(w/'out.txt', 'w') as o, open(w/'err.txt', 'w') as e:
        t0, seen, p = time.perf_counter(), set(), subprocess.Popen(cmd, cwd=w, env=env(w), stdout=o, stderr=e)
    while not saved() and p.poll() is None and time.perf_counter() - t0 < TIMEOUT:
        seen |= workers(p.pid, ' '.join(cmd)); time.sleep(0.2)
    r = dict(cmd=shlex.join(['stocknb', *args]) + ' & kill -9 $!', out='', err=(w/'err.txt').read_text())
    if p.poll() is not None:
        r |= dict(code=p.returncode, secs=time.perf_counter() - t0)
        return r | dict(note=f'ended before the kill: {says(r)}')
    now, n_saved, before = workers(p.pid, ' '.join(cmd)), len(saved()), snapshot(w/'models')
    p.kill(); t_kill, wall_kill = time.perf_counter(), time.time(); p.wait(); seen |= now
    while any(alive(q) for q in seen) and time.perf_counter() - t_kill < 60: time.sleep(0.05)
    gone, left = time.perf_counter() - t_kill, [q for q in seen if alive(q)]
    time.sleep(2)
    after, changed = snapshot(w/'models'), {}
    for k in before.keys() | after.keys():                  # top entry -> newest mtime of its changes, from the kill
        if before.get(k) != after.get(k):
            f, top = w/'models'/k, k.split('/')[0]
            while not f.exists(): f = f.parent                   # removed: its folder's mtime
            changed[top] = max(changed.get(top, -1e9), f.stat().st_mtime - wall_kill)
    for q in left: os.kill(q, signal.SIGKILL)
    note = (f"killed at {t_kill - t0:.0f} s ({len(now)} workers, {n_saved} saved); "
            + (f"{len(left)} still alive after 60 s" if left else f"all {len(seen)} gone {gone:.1f} s after")
            + '; models root after the kill: ' + (', '.join(f'{k} written {v:+.3f} s from the kill'
                                                          for k, v in sorted(changed.items())) or 'unchanged'))
    return r | dict(code=-9, secs=time.perf_counter() - t0, note=note)

def read_only_root(w):
    with_model(w)
    for q in [*(w/'models').rglob('*'), w/'models']: q.chmod(0o555 if q.is_dir() else 0o444)
    before = snapshot(w/'models'); r = run(w, *PREDICT, drop=True, pick='PL for')
    if r['code'] == 0 and snapshot(w/'models') != before: r['note'] = 'exit 0, but the read-only root CHANGED'
    return r

def half_writable_root(w):
    with_model(w); (w/'models'/'.stocknb'/'locks').chmod(0o555)
    return run(w, 'run', '--symbol', 'PL', '--source', 'csv', '--path', '{w}/data/planted.csv', '--models', 'xgb',
               drop=True)

CASES = {
    'n-jobs-1000-loky': functools.partial(n_jobs_1000, 'loky'),
    'n-jobs-1000-dask': functools.partial(n_jobs_1000, 'dask'),
    **{f'dask-{k}': functools.partial(dask_address, k) for k in ('refused', 'garbage', 'silent', 'web')},
    'dask-unknown-host': lambda w: run(w, 'universe', '--backend', 'dask', '--address',
                                       'tcp://no-such-host.invalid:8786'),
    'dask-no-workers': dask_no_workers,
    'ray-address': lambda w: run(w, 'universe', '--backend', 'ray', '--address', f'ray://127.0.0.1:{free_port()}'),
    'epochs-huge': lambda w: run(w, 'train', 'lstm', '--symbol', 'IBM', '--epochs', '99999999999999999999'),
    'train-models-abbrev': lambda w: run(w, 'train', 'lstm', '--symbol', 'IBM', '--models', 'xgb'),
    'k-0': lambda w: run(w, 'universe', '--symbols', SYMS, '--k', '0'),
    'k-100': lambda w: run(w, 'universe', '--symbols', SYMS, '--k', '100'),
    'data-dir-empty': data_dir(lambda d: None),
    'data-dir-dangling-link': data_dir(lambda d: (good_csv(d), (d/'GONE.csv').symlink_to(d/'deleted.csv'))),
    'data-dir-fifo': data_dir(lambda d: (good_csv(d), os.mkfifo(d/'PIPE.csv'))),
    'data-dir-folder-csv': data_dir(lambda d: (good_csv(d), (d/'X.csv').mkdir())),
    'data-dir-unreadable': data_dir(locked, drop=True),
    'csv-semicolon-dot-thousands': functools.partial(semicolon, None),
    'csv-semicolon-decimal-comma': functools.partial(semicolon, ','),
    'history-broken': broken_history,
    'manifest-bogus-date': forged(lambda m: m['data'].update(training_last_date='2013-02-30')),
    'manifest-model-params-not-dict': forged(lambda m: m['config'].update(model_params={'xgb': 3})),
    'csv-mixed-utc-offsets': mixed_offsets,
    'kill-9-universe': kill_9,
    'root-read-only-predict': read_only_root,
    'root-half-writable-run': half_writable_root,
}

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--only', nargs='+', metavar='NAME', choices=list(CASES), help=f"cases: {', '.join(CASES)}")
    ap.add_argument('--csv', metavar='PATH', help='also write the rows as CSV')
    a = ap.parse_args()
    global BASE
    BASE = Path(tempfile.mkdtemp(prefix='hostile-')); BASE.chmod(0o755)
    uptime = lambda: subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()
    print(f'start: {uptime()} ({CORES} cores)\n', flush=True)
    rows = []
    def add(name, r, load):
        rows.append(dict(case=name, command=short(r['cmd']), exit_code=r['code'], says=says(r),
                         seconds=f"{r['secs']:.1f}{'*' * (load >= CORES)}", load1=f'{load:.2f}'))
        print(f"{name}: exit {r['code']} in {r['secs']:.1f} s", file=sys.stderr, flush=True)
    try:
        for name in a.only or CASES:
            load = os.getloadavg()[0]
            try: r = CASES[name](world(name))
            except Exception as e: r = dict(code='bench error', out='', err=f'{type(e).__name__}: {e}', secs=0, cmd='')
            load = max(load, os.getloadavg()[0])
            while SETUP: add(*SETUP.pop(), load)
            add(name, r, load)
    finally:
        for q in [BASE, *BASE.rglob('*')]:
            if q.is_dir() and not q.is_symlink(): q.chmod(0o755)
        shutil.rmtree(BASE, ignore_errors=True)
    esc = lambda s: str(s).replace('|', '\\|')
    print('| case | command | exit code | what it says | seconds |\n|---|---|---|---|---|')
    for x in rows:
        print(f"| {x['case']} | `{esc(x['command'])}` | {x['exit_code']} | {esc(x['says'])} | {x['seconds']} |")
    print(f'\n\\* the 1-minute load average was ≥ {CORES} (the cores) at the start or end of the case: under load.')
    print(f'\nend: {uptime()}', flush=True)
    if a.csv and rows:
        with open(a.csv, 'w', newline='') as f:
            wr = csv.DictWriter(f, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
    return 0

if __name__ == '__main__':
    sys.exit(main())
