"""The stored results of the notebooks' long experiments (nbs/results/*.json, kept by `core.stored_tables`): each
file is read by the one notebook named in it, holds the full-size tables and the small case made in the same run,
and reads back into tables, the small case's columns among the full ones. (Under nbdev_test each notebook reruns its
small case and compares it with the file: that is where the numbers themselves are checked.)"""
import json, re
from pathlib import Path
import pytest
from stocknb.core import _table_from

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT/'nbs'/'results').glob('*.json'))

def test_every_stored_result_is_read_by_its_notebook():
    readers = {}
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        for name in re.findall(r"stored_tables\(\s*'results/([^']+)'", nb.read_text(encoding='utf-8')):
            readers.setdefault(name, []).append(nb.stem)
    assert len(FILES) >= 5 and sorted(readers) == [f.name for f in FILES], (sorted(readers), FILES)
    for name, nbs in readers.items():
        assert len(nbs) == 1 and name.startswith(nbs[0] + '_'), (name, nbs)       # one notebook, named in the file

@pytest.mark.parametrize('path', FILES, ids=[f.stem for f in FILES])
def test_stored_result_holds_both_sizes(path):
    doc = json.loads(path.read_text(encoding='utf-8'))
    assert set(doc) == {'made', 'versions', 'arithmetic', 'small', 'full', 'seconds'}
    assert set(doc['arithmetic']) == {'machine', 'numpy_simd', 'blas'}         # the float kernels it was made with
    assert re.fullmatch(r'\d{4}-\d\d-\d\d', doc['made'])
    assert {'numpy', 'pandas'} <= set(doc['versions']) and doc['seconds']['full'] > 0
    assert set(doc['small']) == set(doc['full']) and doc['full']
    for name in doc['full']:
        small, full = _table_from(doc['small'][name]), _table_from(doc['full'][name])
        assert set(small.columns) <= set(full.columns) and len(full) >= len(small) > 0, name   # a part of it
