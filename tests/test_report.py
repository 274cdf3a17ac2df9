"""The HTML report of a validation run: one self-contained file (every plot inside it, nothing fetched), its numbers
the run's own, refused when the bars are not the validated ones, written whole or not at all — and, in a real headless
Chromium, it renders without a console message and every image decodes."""
import html, os, re
import pytest
from stocknb.core import ConfigError, DataError
from stocknb.metrics import sharpe_ratio
from stocknb.report import strategy_returns

@pytest.fixture(scope='module')
def run(planted_stack):
    "The session's stacked validation of a planted series (conftest.planted_stack) and its bars."
    return planted_stack.rep, planted_stack.df

def test_page_is_self_contained_and_states_the_runs_numbers(run, tmp_path):
    rep, df = run
    page = rep.to_html(tmp_path/'r.html', data=df)
    assert (tmp_path/'r.html').read_text(encoding='utf-8') == page
    umask = os.umask(0); os.umask(umask)
    assert (tmp_path/'r.html').stat().st_mode & 0o777 == 0o666 & ~umask         # a report, not a private temp file
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', page)) == 3
    assert not re.search(r'(src|href)="(https?:)?//', page) and '@import' not in page      # nothing from the network
    for m, g in rep.gates.items():
        assert f'<tr><th>{m}</th>' in page and g.reason.split(':')[0] in page
    o = rep.results['xgb'].oof_metrics
    assert f"{o.skill_free_accuracy:.4f}" in page and f"{rep.economics['xgb']['hold_sharpe']:+.2f}" in page
    assert f"<td>{o.ic:+.4f} / {o.rank_ic:+.4f}</td>" in page and 'rank IC: the same on ranks' in page
    assert rep.id in page and html.escape('"xgboost": ') in page and "<h2>The stack's confidence</h2>" in page

def test_equity_curves_are_the_runs_sign_strategies(run):
    rep, df = run
    R = strategy_returns(rep, df)
    for m in ('xgb', 'lgbm'):                 # the report's Sharpe is the one the gate table states
        assert R[m].std() > 0
        assert sharpe_ratio(R[m]) == pytest.approx(rep.economics[m]['sharpe'], abs=1e-9)

@pytest.mark.parametrize('how,err,msg', [
    ('no data', ConfigError, 'PLANTED: this validation ran on bars given in memory; pass them as data='),
    ('other bars', DataError, 'PLANTED: these bars are not the ones validated'),
    ('a folder', ConfigError, 'is a folder; give a file name'),
    ('no folder', ConfigError, "the folder of the report's output does not exist"),
])
def test_bad_input_is_refused_before_anything_is_written(run, tmp_path, how, err, msg):
    rep, df = run
    kw = {'no data': dict(path=tmp_path/'r.html'), 'other bars': dict(path=tmp_path/'r.html', data=df.iloc[:-3]),
          'a folder': dict(path=tmp_path, data=df), 'no folder': dict(path=tmp_path/'x'/'r.html', data=df)}[how]
    with pytest.raises(err, match=re.escape(msg)): rep.to_html(**kw)
    assert list(tmp_path.iterdir()) == []

def test_page_renders_in_chromium_with_every_image_and_no_console_message(chromium, run, tmp_path):
    rep, df = run
    f = tmp_path/'report.html'
    rep.to_html(f, data=df)
    r = chromium('--enable-logging=stderr', '--v=0', '--dump-dom', f.as_uri())
    assert re.search(r'<body[^>]*data-images-loaded="3/3"', r.stdout), r.stdout[:500]
    assert 'CONSOLE' not in r.stderr, [l for l in r.stderr.splitlines() if 'CONSOLE' in l]
    shot = tmp_path/'report.png'
    chromium(f'--screenshot={shot}', '--window-size=1280,2400', f.as_uri())
    assert shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and shot.stat().st_size > 50_000

def _cli(*argv, cwd=None):
    import subprocess, sys, time
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, '-m', 'stocknb.cli', *argv], capture_output=True, text=True, timeout=600,
                       cwd=cwd)
    return r, time.perf_counter() - t0

def test_cli_report_writes_the_page_and_trains_nothing(tmp_path):
    r, _ = _cli('report', '--symbol', 'IBM', '--models', 'xgb', '--models-dir', str(tmp_path/'m'), '--output',
                str(tmp_path/'ibm.html'))
    assert r.returncode == 0, r.stderr[-2000:]
    page = (tmp_path/'ibm.html').read_text(encoding='utf-8')
    assert '<h1>IBM: 3,270 bars' in page and page.count('src="data:image/png;base64,') == 2    # folds, equity
    assert f"wrote {tmp_path/'ibm.html'}" in r.stdout and not (tmp_path/'m'/'IBM').exists()  # no model trained

@pytest.mark.parametrize('output,msg', [('.', 'is a folder; give a file name'),
                                        ('nowhere/r.html', "the folder of the report's output does not exist")])
def test_cli_report_refuses_a_bad_output_before_the_run(tmp_path, output, msg):
    r, seconds = _cli('report', '--symbol', 'IBM', '--models', 'xgb', '--models-dir', str(tmp_path/'m'), '--output',
                      output, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr and seconds < 20, (r.returncode, r.stderr[-500:], seconds)
    assert not (tmp_path/'m').exists()                                        # nothing ran, nothing recorded
