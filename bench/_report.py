"""The one machine-readable line each benchmark prints per measured ratio, read by bench/run_all.py:

    BENCH {"bench": "features", "measure": "...", "value": 4.2, "target": 3.0, "better": "higher", "ok": true}
"""
import json

def report(bench:str, measure:str, value:float, target:float, better:str='higher', unit:str='×'):
    "Print one BENCH line: `value` against `target` (`better` 'higher': value ≥ target; 'lower': value ≤ target)."
    ok = value >= target if better == 'higher' else value <= target
    print('BENCH ' + json.dumps({'bench': bench, 'measure': measure, 'value': round(float(value), 4),
                                 'target': target, 'better': better, 'unit': unit, 'ok': bool(ok)},
                                ensure_ascii=False), flush=True)
