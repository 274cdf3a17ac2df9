"""What each requirement of stocknb weighs once installed, measured in the current environment.

    python bench/install_size.py            # the base requirements (settings.ini `requirements`)
    python bench/install_size.py --extras   # also each extra

For every requirement: the installed size of its own distribution, of everything it pulls in (its dependency
closure), and of what only it pulls in (the closure minus what the other requirements pull in too). Sizes are
the sums of the files each distribution's metadata lists, so they count what `pip install` put on disk."""
import argparse, configparser, re, shlex
from importlib import metadata as md
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def _name(req:str) -> str: return re.split(r'[\s<>=!~;\[]', req, maxsplit=1)[0]
def _canon(n:str) -> str: return re.sub(r'[-_.]+', '-', n).lower()

def _dist(name):
    try: return md.distribution(name)
    except md.PackageNotFoundError: return None

def size(dist) -> int:
    "Bytes of the files a distribution installed."
    tot = 0
    for f in dist.files or []:
        try: tot += f.locate().stat().st_size
        except OSError: pass
    return tot

def closure(name:str, extras=()) -> set:
    "Canonical names of `name` and every distribution it requires (with `extras`), as installed here."
    seen, todo = set(), [(name, tuple(extras))]
    while todo:
        n, ex = todo.pop()
        d = _dist(n)
        if d is None or (_canon(n) in seen and not ex): continue
        seen.add(_canon(n))
        for r in d.requires or []:
            spec, _, marker = r.partition(';')
            m = re.search(r'extra\s*==\s*["\']([^"\']+)', marker)
            if m and m.group(1) not in ex: continue
            if marker.strip() and not m:
                try:
                    from packaging.markers import Marker
                    if not Marker(marker).evaluate(): continue
                except Exception: pass
            sub = re.search(r'\[([^\]]+)\]', spec)
            todo.append((_name(spec.strip()), tuple(x.strip() for x in sub.group(1).split(',')) if sub else ()))
    return seen

def table(reqs:list) -> list:
    closures = {r: closure(_name(r), re.findall(r'\[([^\]]+)\]', r)[0].split(',') if '[' in r else ()) for r in reqs}
    sizes = {}
    def sz(n):
        if n not in sizes: d = _dist(n); sizes[n] = size(d) if d else 0
        return sizes[n]
    rows = []
    for r, c in closures.items():
        others = set().union(*(v for k, v in closures.items() if k != r))
        rows.append((_name(r), sz(_canon(_name(r))), sum(map(sz, c)), sum(sz(n) for n in c - others)))
    total = sum(map(sz, set().union(*closures.values())))
    return rows, total

def show(title, reqs):
    rows, total = table(reqs)
    print(f"\n{title}: {len(reqs)} requirements, {total / 2**20:,.0f} MiB installed in all")
    print(f"{'requirement':<20}{'itself MiB':>12}{'with its deps':>15}{'only its':>10}")
    for n, own, clo, excl in sorted(rows, key=lambda x: -x[2]):
        print(f"{n:<20}{own / 2**20:>12,.0f}{clo / 2**20:>15,.0f}{excl / 2**20:>10,.0f}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--extras', action='store_true')
    a = p.parse_args()
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    c = cfg['DEFAULT']
    show('base install (pip install stocknb)', shlex.split(c['requirements']))
    if a.extras:
        for k in ('dev', 'yfinance', 'gpu', 'bench'):
            if f'{k}_requirements' in c: show(f"extra [{k}]", shlex.split(c[f'{k}_requirements']))
