import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # XGBoost and LightGBM in one process
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('MPLBACKEND', 'Agg')
