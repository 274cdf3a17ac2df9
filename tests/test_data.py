"""Cross-cutting data tests: CSV shapes from disk, every bad input's DataError, split adjustment on real data."""
import numpy as np, pandas as pd, pytest
from stocknb.core import ConfigError, DataError
from stocknb.data import (OHLCV, load_csv, load_ohlcv, validate_ohlcv, sample_symbols, random_walk_ohlcv,
                          planted_signal_ohlcv, frame_hash, shuffled_days, is_validated)

GOOD = [('2020-01-02', 100, 102, 99, 101, 1000), ('2020-01-03', 101, 103, 100, 102, 2000), ('2020-01-06', 102, 104, 101, 103, 1500)]

def write(tmp_path, name, text):
    p = tmp_path/name; p.write_text(text); return p

def rows(fmt_date=lambda d: d, header='Date,Open,High,Low,Close,Volume', extra=lambda i: ''):
    lines = [header] + [','.join(map(str, (fmt_date(r[0]),) + r[1:])) + extra(i) for i, r in enumerate(GOOD)]
    return '\n'.join(lines) + '\n'

def us(d): y, m, dd = d.split('-'); return f"{int(m)}/{int(dd)}/{y}"

EXPECTED_INDEX = pd.DatetimeIndex(['2020-01-02', '2020-01-03', '2020-01-06'], name='Date').as_unit('us')  # stocknb always uses us (pandas 3's default; spans any synthetic length)

@pytest.mark.parametrize('name,text', [
    ('canonical.csv', rows()),
    ('lower.csv', rows(header='date,open,high,low,close,volume')),
    ('upper.csv', rows(header='DATE,OPEN,HIGH,LOW,CLOSE,VOLUME')),
    ('us_dates.csv', rows(fmt_date=us)),
    ('iso_time.csv', rows(fmt_date=lambda d: d + ' 00:00:00')),
    ('iso_offset.csv', rows(fmt_date=lambda d: d + ' 00:00:00-05:00')),
    ('extra_cols.csv', rows(header='Date,Open,High,Low,Close,Volume,Ticker,Dividends', extra=lambda i: ',X,0')),
    ('unnamed_index.csv', ',' + rows(header='Date,Open,High,Low,Close,Volume').replace('\n2020', '\n0,2020', 1)
        .replace('\n2020-01-03', '\n1,2020-01-03').replace('\n2020-01-06', '\n2,2020-01-06')),
    ('unnamed_date_index.csv', rows(header=',Open,High,Low,Close,Volume')),
    ('reordered.csv', 'Volume,Close,Low,High,Open,Date\n' + ''.join(f"{v},{c},{l},{h},{o},{d}\n" for d, o, h, l, c, v in GOOD)),
    ('newest_first.csv', 'Date,Open,High,Low,Close,Volume\n' + ''.join(','.join(map(str, r)) + '\n' for r in GOOD[::-1])),
    ('spaces.csv', rows(header='Date, Open, High, Low, Close, Volume')),
])
def test_csv_shapes(tmp_path, name, text):
    df = load_csv(write(tmp_path, name, text))
    assert list(df.columns) == OHLCV
    pd.testing.assert_index_equal(df.index, EXPECTED_INDEX)
    assert (df.dtypes == 'float64').all()
    np.testing.assert_allclose(df['Close'], [101, 102, 103])
    np.testing.assert_allclose(df['Volume'], [1000, 2000, 1500])

def test_csv_adj_close_adjusts(tmp_path):
    text = "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,100,102,99,101,50.5,1000\n2020-01-03,52,53,51,52.5,52.5,2000\n"
    df = load_csv(write(tmp_path, 'adj.csv', text))
    np.testing.assert_allclose(df['Close'], [50.5, 52.5]); np.testing.assert_allclose(df['Open'], [50, 52])
    np.testing.assert_allclose(df['Volume'], [2000, 2000])
    raw = load_csv(tmp_path/'adj.csv', adjust=False)
    np.testing.assert_allclose(raw['Close'], [101, 52.5])

def test_csv_adj_close_spellings(tmp_path):
    for hdr in ('adj_close', 'AdjClose', 'Adjusted Close', 'adj close'):
        text = f"date,open,high,low,close,{hdr},volume\n2020-01-02,100,102,99,101,50.5,1000\n"
        np.testing.assert_allclose(load_csv(write(tmp_path, 'a.csv', text))['Close'], [50.5])

def test_csv_matches_sample_roundtrip(tmp_path):
    df = load_ohlcv('IBM')
    p = tmp_path/'ibm.csv'; df.to_csv(p)
    back = load_csv(p)
    pd.testing.assert_frame_equal(back, df, check_freq=False)

BAD = {
    'missing_close.csv': ("Date,Open,High,Low,Volume\n2020-01-02,1,2,0.5,10\n", "column 'Close' missing; got ['Date', 'Open', 'High', 'Low', 'Volume']"),
    'no_date.csv': ("Open,High,Low,Close,Volume\n1,2,0.5,1.5,10\n", "no date column"),
    'day_first.csv': ("Date,Open,High,Low,Close,Volume\n31/12/2020,1,2,0.5,1.5,10\n", "unreadable date in column 'Date' at row 0: '31/12/2020'"),
    'dup.csv': (rows() + "2020-01-03,1,2,0.5,1.5,10\n", "duplicate dates: 1 repeated; first: 2020-01-03 appears 2 times"),
    'nan.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,,10\n", "NaN in column 'Close' on 1 row(s); first: 2020-01-02"),
    'text.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,abc,10\n", "non-numeric value in column 'Close' on 1 row(s); first: 2020-01-02 (Close='abc')"),
    'inf.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,inf\n", "infinite value in column 'Volume'"),
    'zero_price.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,0,2,0.5,1.5,10\n", "non-positive price in column 'Open'"),
    'neg_price.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,-0.5,1.5,10\n", "non-positive price in column 'Low'"),
    'high_low.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,1.2,0.5,1.5,10\n", "High below max(Open, Close) in column 'High' on 1 row(s); first: 2020-01-02 (Open=1, High=1.2, Low=0.5, Close=1.5)"),
    'low_high.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,1.2,1.5,10\n", "Low above min(Open, Close) in column 'Low'"),
    'neg_vol.csv': ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,-10\n", "negative volume in column 'Volume'"),
    'header_only.csv': ("Date,Open,High,Low,Close,Volume\n", "no data rows"),
    'empty.csv': ("", "not a readable CSV file"),
    'ambiguous.csv': ("Date,close,Close,Open,High,Low,Volume\n2020-01-02,1,1,1,1,1,1\n", "ambiguous columns: 'close' and 'Close' both mean 'Close'"),
    'bad_adj.csv': ("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,0.5,1.5,0,10\n", "Adj Close / Close is not a positive number"),
}

@pytest.mark.parametrize('name', sorted(BAD))
def test_csv_bad_input(tmp_path, name):
    text, msg = BAD[name]
    with pytest.raises(DataError) as e: load_csv(write(tmp_path, name, text))
    assert msg in str(e.value), str(e.value)
    assert str(e.value).startswith(name) or 'not found' in str(e.value)   # names the file

def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match='file not found'): load_csv(tmp_path/'nope.csv')
    with pytest.raises(DataError, match='got a folder'): load_csv(tmp_path)

def test_validate_refusals_are_dataerrors_and_valueerrors():
    df = random_walk_ohlcv(50, seed=3)
    with pytest.raises(ValueError, match='too few rows: 50'): validate_ohlcv(df, min_rows=51)
    with pytest.raises(DataError, match='index must be a DatetimeIndex'): validate_ohlcv(df.reset_index(drop=True))
    bad = df.copy(); bad.index = bad.index.insert(5, pd.NaT)[:-1]
    with pytest.raises(DataError, match='NaT'): validate_ohlcv(bad)

def test_validate_does_not_mutate_input():
    df = random_walk_ohlcv(30, seed=4).iloc[::-1].assign(Extra=1)
    before = df.copy()
    out = validate_ohlcv(df)
    pd.testing.assert_frame_equal(df, before)
    assert out.index.is_monotonic_increasing and 'Extra' not in out

@pytest.mark.parametrize('symbol', sample_symbols())
def test_sample_symbols_valid(symbol):
    df = load_ohlcv(symbol)
    assert len(df) > 2000 and df.index.is_monotonic_increasing and df.index.is_unique
    pd.testing.assert_frame_equal(validate_ohlcv(df), df)

@pytest.mark.parametrize('symbol,split_day', [('AAPL', '2005-02-28'), ('AAPL', '2000-06-21'), ('MSFT', '2003-02-18')])
def test_split_adjustment(symbol, split_day):
    "No overnight or close-to-close move above 40 % in the weeks around a 2-for-1 split."
    d = pd.Timestamp(split_day)
    df = load_ohlcv(symbol, start=d - pd.Timedelta(days=21), end=d + pd.Timedelta(days=21))
    overnight = (df['Open'] / df['Close'].shift()).dropna()
    c2c = df['Close'].pct_change().dropna()
    assert overnight.sub(1).abs().max() < 0.4 and c2c.abs().max() < 0.4
    assert d in df.index

def test_sample_volume_adjusted_with_prices():
    "Dollar volume is continuous across the AAPL split: adjusted volume doubles when the price halves."
    df = load_ohlcv('AAPL', start='2005-01-03', end='2005-04-29')
    before = df.loc[:'2005-02-25', 'Volume'].median(); after = df.loc['2005-02-28':, 'Volume'].median()
    assert 0.5 < after / before < 2

def test_dates_and_errors():
    df = load_ohlcv('GOOG', start='2004-01-01', end='2004-12-31')
    assert df.index[0] == pd.Timestamp('2004-08-19')
    with pytest.raises(DataError, match="no bundled data for 'FB'"): load_ohlcv('FB')
    with pytest.raises(DataError, match='path, sep and decimal are only used with'): load_ohlcv('AAPL', path='x.csv')
    with pytest.raises(DataError, match="symbol '  ' is not a valid ticker"): load_ohlcv('  ')

def test_csv_source_through_load_ohlcv(tmp_path):
    p = write(tmp_path, 'x.csv', rows())
    df = load_ohlcv('anything', source='csv', path=p, start='2020-01-03')
    assert len(df) == 2

def test_yfinance_missing_is_clear(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, 'yfinance', None)
    with pytest.raises(DataError, match=r"pip install 'stocknb\[yfinance\]'; offline, use source='sample' \(bundled AAPL, GOOG, IBM, MSFT\)"):
        load_ohlcv('AAPL', source='yfinance', cache=tmp_path)
    assert not any(tmp_path.rglob('*.parquet'))

def test_yfinance_cache_roundtrip(monkeypatch, tmp_path):
    import sys, types
    pytest.importorskip('pyarrow', reason='parquet cache needs pyarrow (dev and yfinance extras)')
    calls = []
    class Ticker:
        def __init__(self, s): calls.append(s)
        def history(self, **kw):
            assert kw['auto_adjust'] is False
            idx = pd.DatetimeIndex(['2020-01-02', '2020-01-03'], tz='America/New_York', name='Date')
            return pd.DataFrame({'Open': [100., 52.], 'High': [102., 53.], 'Low': [99., 51.], 'Close': [101., 52.5],
                                 'Adj Close': [50.5, 52.5], 'Volume': [1000, 2000]}, index=idx)
    monkeypatch.setitem(sys.modules, 'yfinance', types.SimpleNamespace(Ticker=Ticker))
    a = load_ohlcv('msft', source='yfinance', cache=tmp_path)
    b = load_ohlcv('MSFT', source='yfinance', cache=tmp_path)
    c = load_ohlcv('MSFT', source='yfinance', cache=tmp_path, refresh=True)
    assert calls == ['MSFT', 'MSFT']
    pd.testing.assert_frame_equal(a, b); pd.testing.assert_frame_equal(a, c)
    np.testing.assert_allclose(a['Close'], [50.5, 52.5])
    assert a.index.tz is None and list((tmp_path/'yfinance').iterdir()) == [tmp_path/'yfinance'/'MSFT.parquet']

def test_yfinance_corrupt_cache(tmp_path):
    (tmp_path/'yfinance').mkdir(); (tmp_path/'yfinance'/'AAPL.parquet').write_bytes(b'not parquet')
    with pytest.raises(DataError, match='is unreadable'): load_ohlcv('AAPL', source='yfinance', cache=tmp_path)

def test_generators_deterministic_and_valid():
    for gen in (lambda s: random_walk_ohlcv(500, seed=s), lambda s: planted_signal_ohlcv(500, phi=0.2, seed=s)):
        a, b = gen(5), gen(5)
        pd.testing.assert_frame_equal(a, b)
        assert frame_hash(a) != frame_hash(gen(6))
        pd.testing.assert_frame_equal(validate_ohlcv(a), a)

def test_planted_signal_autocorrelation():
    r = np.log(planted_signal_ohlcv(100_000, phi=0.2, seed=9)['Close']).diff().dropna().to_numpy()
    ac = np.corrcoef(r[:-1], r[1:])[0, 1]
    assert abs(ac - 0.2) < 4 / np.sqrt(len(r))
    assert abs(r.std() - 0.015) < 0.0005

def days(df):
    "Each day t >= 1 as (Open, High, Low, Close) / Close[t-1] and Volume, sorted: the multiset of days."
    v = df.to_numpy(); d = np.column_stack([v[1:, :4] / v[:-1, 3:4], v[1:, 4]])
    return d[np.lexsort(d.T)]

@pytest.mark.parametrize('symbol', ['AAPL', 'GOOG'])
def test_shuffled_days_invariants(symbol):
    df = load_ohlcv(symbol); sh = shuffled_days(df, seed=3)
    assert is_validated(sh) and list(sh.columns) == OHLCV
    pd.testing.assert_frame_equal(validate_ohlcv(sh), sh)
    pd.testing.assert_index_equal(sh.index, df.index)
    pd.testing.assert_series_equal(sh.iloc[0], df.iloc[0])
    r0, r = (np.diff(np.log(d['Close'].to_numpy())) for d in (df, sh))
    np.testing.assert_allclose(np.sort(r), np.sort(r0), rtol=0, atol=1e-12)
    assert np.mean(r > 0) == np.mean(r0 > 0) and not np.allclose(r, r0)
    np.testing.assert_allclose(days(sh), days(df), rtol=1e-12)          # whole days moved, volume with its bar
    c = df['Close'].to_numpy()
    np.testing.assert_allclose(sh['Close'].iloc[-1], c[0] * np.prod(c[1:] / c[:-1]), rtol=1e-12)

def test_shuffled_days_removes_dependence():
    df = load_ohlcv('IBM'); a0 = np.abs(np.diff(np.log(df['Close'].to_numpy()))); n = len(a0)
    assert np.corrcoef(a0[:-1], a0[1:])[0, 1] > 0.15                    # volatility clusters in the real order ...
    for seed in range(5):                                                # ... and not in any shuffled one
        a = np.abs(np.diff(np.log(shuffled_days(df, seed)['Close'].to_numpy())))
        assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 3 / np.sqrt(n)

def test_shuffled_days_seeds():
    df = random_walk_ohlcv(200, seed=1)
    pd.testing.assert_frame_equal(shuffled_days(df, 7), shuffled_days(df, 7))
    pd.testing.assert_frame_equal(shuffled_days(df), shuffled_days(df, seed=0))
    assert frame_hash(shuffled_days(df, 7)) != frame_hash(shuffled_days(df, 8))
    pd.testing.assert_frame_equal(shuffled_days(df.iloc[::-1].assign(Extra=1), 7), shuffled_days(df, 7))
    shuffled_days(df, seed=2**32 - 1)

def test_shuffled_days_adjusts_a_raw_frame():
    df = random_walk_ohlcv(100, seed=2); raw = df.copy()
    raw.iloc[:50, :4] *= 2; raw.iloc[:50, 4] /= 2; raw['Adj Close'] = df['Close']   # an unadjusted 2-for-1 split
    pd.testing.assert_frame_equal(shuffled_days(raw, 5), shuffled_days(df, 5))

@pytest.mark.parametrize('kw,err,msg', [
    (dict(seed=-1), ConfigError, r'seed must be an integer in \[0, 4294967295\]; got -1'),
    (dict(seed=2**32), ConfigError, 'got 4294967296'),
    (dict(seed=1.0), ConfigError, r'got 1.0 \(float\)'),
    (dict(seed='1'), ConfigError, r"got '1' \(str\)"),
    (dict(seed=True), ConfigError, r'got True \(bool\)'),
    (dict(df=random_walk_ohlcv(2)), DataError, r'df must hold at least 3 bars to shuffle .*; got 2'),
    (dict(df=random_walk_ohlcv(10).drop(columns='High')), DataError, "column 'High' missing"),
    (dict(df=random_walk_ohlcv(10).reset_index()), DataError, 'index must be a DatetimeIndex'),
    (dict(df=[1, 2, 3]), DataError, 'expected a pandas DataFrame; got list'),
])
def test_shuffled_days_bad_input(kw, err, msg):
    kw = {'df': random_walk_ohlcv(10), **kw}
    with pytest.raises(err, match=msg): shuffled_days(**kw)
