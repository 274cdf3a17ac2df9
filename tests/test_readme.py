"""Every code block of the README, run as a reader would paste it: the Python blocks in a fresh interpreter, every
`stocknb` command of the shell blocks as a real process. A command's documented exit code (`# exit code N` on its
line) is the one expected, else 0. Placeholders are filled with real things: `bars/` with a folder of CSV files,
the Dask scheduler address with a local cluster's. What cannot run inside a test is named, with the reason, and a
test fails when the README gains a command nobody has placed."""
import os, re, shlex, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r'^```(\w*)\n(.*?)^```', (ROOT/'README.md').read_text(encoding='utf-8'), re.S | re.M)
NOT_HERE = {   # command (its first words) -> why a test does not run it
    'pip install': 'installing: this environment was installed by the same command (CI runs it on a fresh machine)',
    'python3 -m venv': 'a new environment: CI creates one on a fresh machine', '.': 'activating that environment',
    'bash .ci/run': 'the CI itself, which runs this test', 'nbdev_export': 'run by CI (the sync check)',
    'nbdev_clean': 'run by CI (the sync check)', 'nbdev_test': 'run by CI', 'python -m pytest': 'run by CI (this run)',
    'python tools/docs.py': 'run by CI (the docs build)', 'python -m http.server': 'a server that runs until stopped'}

def _commands(lang, text):
    "The commands of a shell block: (command, expected exit code); `$ ` prompt lines of a plain block too."
    out = []
    for line in text.splitlines():
        if lang == '' and not line.startswith('$ '): continue
        line = line.removeprefix('$ ')
        code = int(m[1]) if (m := re.search(r'#\s*exit code (\d+)', line)) else 0
        for cmd in re.split(r'\s*(?:&&|;)\s*', line.split('#')[0].strip()):
            if cmd: out.append((cmd, code))
    return out

COMMANDS = [c for lang, t in BLOCKS if lang in ('sh', '') for c in _commands(lang, t)]
PYTHON = [t for lang, t in BLOCKS if lang == 'python']

def test_every_command_is_run_or_placed():
    unplaced = [c for c, _ in COMMANDS if not c.startswith('stocknb ') and not any(c.startswith(k) for k in NOT_HERE)]
    assert not unplaced, f"README commands this test neither runs nor explains: {unplaced}"
    assert sum(c.startswith('stocknb ') for c, _ in COMMANDS) >= 5 and len(PYTHON) >= 2

@pytest.fixture(scope='module')
def bars(tmp_path_factory):
    "`bars/`: a folder of CSV files, one per symbol (three short synthetic series)."
    from stocknb.data import planted_signal_ohlcv, random_walk_ohlcv
    d = tmp_path_factory.mktemp('readme')/'bars'; d.mkdir()
    for i in range(2): random_walk_ohlcv(1000, seed=70 + i).to_csv(d/f'RW{i}.csv')
    planted_signal_ohlcv(1000, phi=0.3, seed=72).to_csv(d/'PL.csv')
    return d

def _run(argv, cwd, env=None, timeout=900):
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'STOCKNB_MODELS_DIR': str(cwd/'models'), **(env or {})})
    return r, time.perf_counter() - t0

@pytest.mark.parametrize('cmd,code', [c for c in COMMANDS if c[0].startswith('stocknb ')], ids=lambda x: str(x)[:60])
def test_readme_command_runs_as_documented(cmd, code, bars, tmp_path):
    if 'ray://' in cmd: pytest.importorskip('ray', reason='Ray is an optional extra, not installed here')
    cmd = cmd.replace('bars/', str(bars) + '/')
    if 'tcp://scheduler:8786' in cmd:
        distributed = pytest.importorskip('dask.distributed')
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc:
            r, s = _run(shlex.split(cmd.replace('tcp://scheduler:8786', lc.scheduler_address)), tmp_path)
    else: r, s = _run(shlex.split(cmd), tmp_path)
    print(f"{cmd}: exit {r.returncode} in {s:.0f} s")
    assert r.returncode == code, (r.stdout[-1500:], r.stderr[-1500:])
    assert 'Traceback' not in r.stderr

def test_the_data_example_prints_what_the_readme_shows(tmp_path):
    shown = next(t for lang, t in BLOCKS if lang == '' and t.startswith('$ stocknb data'))
    r, _ = _run(shlex.split(shown.splitlines()[0][2:]), tmp_path)
    assert r.returncode == 0
    for line in shown.splitlines()[1:]:
        if line.strip() != '...': assert line in r.stdout.splitlines(), (line, r.stdout)

@pytest.mark.parametrize('i', range(len(PYTHON)))
def test_readme_python_block_runs_as_pasted(i, tmp_path):
    r, s = _run([sys.executable, '-c', PYTHON[i]], tmp_path)
    print(f"python block {i}: exit {r.returncode} in {s:.0f} s")
    assert r.returncode == 0, (r.stdout[-1500:], r.stderr[-3000:])
