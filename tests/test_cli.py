"""The console script as a user runs it: a real subprocess, real exit codes."""
import json, shutil, subprocess, sys
import pytest

def run(*args, exe=None):
    cmd = [exe] if exe else [sys.executable, '-m', 'stocknb.cli']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)

def test_data_summary():
    r = run('data', '--symbol', 'AAPL')
    assert r.returncode == 0, r.stderr
    assert 'rows             3,270' in r.stdout and 'last date        2013-03-01' in r.stdout

def test_console_script_installed():
    exe = shutil.which('stocknb')
    if exe is None: pytest.fail("the 'stocknb' console script is not on PATH: is the package installed (pip install -e .)?")
    r = run('data', '--symbol', 'MSFT', '--json', exe=exe)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s['symbol'] == 'MSFT' and s['rows'] == 3270

def test_csv_source(tmp_path):
    p = tmp_path/'bars.csv'
    p.write_text("date,open,high,low,close,volume\n1/2/2020,100,102,99,101,1000\n1/3/2020,101,103,100,102,2000\n")
    r = run('data', '--symbol', 'XYZ', '--source', 'csv', '--path', str(p), '--json')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['rows'] == 2

@pytest.mark.parametrize('args,msg', [
    (('data', '--symbol', 'TSLA'), "error: DataError: no bundled data for 'TSLA'"),
    (('data', '--source', 'csv', '--path', '/no/such.csv'), "error: DataError: file not found: /no/such.csv"),
    (('data', '--start', '2030-01-01'), "error: DataError: no rows for AAPL between 2030-01-01"),
    (('data', '--source', 'nowhere'), "invalid choice: 'nowhere'"),
])
def test_bad_input_exit_2(args, msg):
    r = run(*args)
    assert r.returncode == 2
    assert msg in r.stderr and 'Traceback' not in r.stderr
    assert r.stdout == ''
