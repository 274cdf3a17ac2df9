import os
import pytest
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # XGBoost and LightGBM in one process
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('MPLBACKEND', 'Agg')
if 'STOCKNB_MODELS_DIR' not in os.environ:            # tests never write into the checkout's saved_models/
    import tempfile
    os.environ['STOCKNB_MODELS_DIR'] = tempfile.mkdtemp(prefix='stocknb-test-models-')

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False, help='also run tests marked slow (long statistical variants)')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long-running variant; run with --slow (as nbdev_test --flags slow does for notebooks)')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow variant: run with pytest --slow')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)
