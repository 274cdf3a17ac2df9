"""Developer helper: the shape of the architecture, for the renovation of the upper floors (issue 23).

    python tools/architecture.py [REPO_DIR]

Per module: the stocknb modules it imports at module level and inside functions, modules named in strings
(importlib), upward imports (a module whose notebook comes later), and the `'stack'` literals. Then the import
cycles, and per notebook the share of exported cells followed by a demonstration before the next exported cell, with
the longest run of exported lines shown nowhere in between. Prints plain tables; exit code 0."""
import ast, json, re, sys
from pathlib import Path

def module_notebooks(root:Path) -> dict:
    "module name -> the notebook that exports it (its `#| default_exp`)."
    out = {}
    for nb in sorted((root/'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
            if m: out[m.group(1)] = nb.stem; break
    return out

def imports(path:Path, mods:set) -> dict:
    "{'top': set, 'inner': set, 'strings': set, 'stack': int} of one module."
    src = path.read_text(); tree = ast.parse(src)
    top, inner = set(), set()
    def target(node):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level: return [base.split('.')[0]] if base else [a.name for a in node.names]
            if base.startswith('stocknb.'): return [base.split('.')[1]]
            if base == 'stocknb': return [a.name for a in node.names]
        if isinstance(node, ast.Import):
            return [a.name.split('.')[1] for a in node.names if a.name.startswith('stocknb.')]
        return []
    for node in tree.body:
        for t in target(node): top.add(t)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                for t in target(sub): inner.add(t)
    strings = {s.value.split('.')[1] for s in ast.walk(tree) if isinstance(s, ast.Constant) and isinstance(s.value, str)
               and re.fullmatch(r'stocknb\.\w+', s.value) and s.value.split('.')[1] in mods}
    stack = sum(1 for s in ast.walk(tree) if isinstance(s, ast.Constant) and s.value == 'stack')
    me = path.stem
    return {'top': top & mods - {me}, 'inner': inner & mods - {me} - top, 'strings': strings - {me}, 'stack': stack}

def cycles(graph:dict) -> list:
    "Every elementary cycle through the smallest module name of it (small graphs: a plain DFS)."
    found = set()
    def dfs(start, node, path):
        for nxt in graph.get(node, ()):
            if nxt == start: found.add(tuple(path))
            elif nxt > start and nxt not in path: dfs(start, nxt, path + [nxt])
    for s in sorted(graph): dfs(s, s, [s])
    return sorted(found)

def notebook_tests(nb:Path) -> tuple:
    "(exported cells, share followed by a demonstration, longest run of exported lines without one)."
    code = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
    exp = lambda s: s.lstrip().startswith('#| export')
    demo = lambda s: not exp(s) and not s.lstrip().startswith(('#| hide', '#| default_exp')) and \
        not re.fullmatch(r'\s*(show_doc\([^)]*\)\s*)+', s) and s.strip()
    n = tested = run = longest = 0
    for i, s in enumerate(code):
        if not exp(s): continue
        n += 1; run += s.count('\n') + 1
        nxt = next((t for t in code[i + 1:] if exp(t) or demo(t)), None)
        if nxt is not None and not exp(nxt): tested += 1; longest = max(longest, run); run = 0
    return n, tested / n if n else float('nan'), max(longest, run)

def main(root:Path):
    nbs = module_notebooks(root)
    mods = {p.stem for p in (root/'stocknb').glob('*.py') if not p.stem.startswith('_')}
    info = {m: imports(root/'stocknb'/f'{m}.py', mods) for m in sorted(mods)}
    order = lambda m: nbs.get(m, '~')
    print(f"{'module':<18}{'lines':>6}{'imports':>8}  {'inside functions':<30}{'by name string':<26}{'upward':<22}"
          f"{'stack':>6}")
    for m in sorted(mods, key=order):
        i = info[m]; n = len((root/'stocknb'/f'{m}.py').read_text().splitlines())
        up = sorted(x for x in i['top'] | i['inner'] | i['strings'] if order(x) > order(m))
        print(f"{m:<18}{n:>6}{len(i['top'] | i['inner'] | i['strings']):>8}  {','.join(sorted(i['inner'])):<30}"
              f"{','.join(sorted(i['strings'])):<26}{','.join(up):<22}{i['stack']:>6}")
    graph = {m: i['top'] | i['inner'] | i['strings'] for m, i in info.items()}
    cyc = cycles(graph)
    print(f"\nimport cycles (module level, inside functions and by name): {len(cyc)}")
    for c in cyc: print('  ' + ' → '.join(c + (c[0],)))
    print(f"\n{'notebook':<22}{'exported cells':>15}{'shown after':>13}{'longest untested run (lines)':>30}")
    for nb in sorted((root/'nbs').glob('*.ipynb')):
        n, share, longest = notebook_tests(nb)
        if n: print(f"{nb.stem:<22}{n:>15}{share:>13.0%}{longest:>30}")

if __name__ == '__main__': main(Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve())
