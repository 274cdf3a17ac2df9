"""Developer helper: the shape of the code, for reviews. Usage: python tools/code_stats.py [REPO_DIR]

Prints, per module, its lines, its longest function (lines) and its lines over 120 characters; per notebook, its
longest exported cell and the number of exported cells before its first demonstration; and the totals."""
import ast, json, sys
from pathlib import Path

def functions(tree):
    "(qualified name, lines) of every function and method in a module's AST."
    out = []
    def walk(node, prefix=''):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((prefix + ch.name, ch.end_lineno - ch.lineno + 1)); walk(ch, prefix + ch.name + '.')
            elif isinstance(ch, ast.ClassDef): walk(ch, prefix + ch.name + '.')
    walk(tree)
    return out

def module_rows(root:Path):
    for f in sorted((root/'stocknb').glob('*.py')):
        if f.name in ('__init__.py', '_modidx.py'): continue
        src = f.read_text()
        fn = max(functions(ast.parse(src)), key=lambda x: x[1], default=('—', 0))
        yield f.stem, len(src.splitlines()), fn, sum(len(l) > 120 for l in src.splitlines())

def notebook_rows(root:Path):
    for nb in sorted((root/'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        code = [(''.join(c['source'])) for c in cells if c['cell_type'] == 'code']
        exp = [s for s in code if s.lstrip().startswith('#| export')]
        if not exp: continue
        first, before = None, 0
        for s in code:
            if s.lstrip().startswith('#| export'):
                if first is None: before += 1
            elif not s.lstrip().startswith(('#| hide', '#| default_exp')) and before: first = first or s; break
        n_showdoc = sum('show_doc' in s for s in code)
        yield nb.stem, len(exp), max(s.count('\n') + 1 for s in exp), before, n_showdoc

if __name__ == '__main__':
    root = Path(sys.argv[1] if len(sys.argv) > 1 else '.')
    print(f"{'module':<16}{'lines':>7}  {'longest function':<44}{'lines':>6}{'>120 ch':>9}")
    tot = [0, 0]
    for m, n, (fn, fl), wide in module_rows(root):
        print(f"{m:<16}{n:>7}  {fn[:43]:<44}{fl:>6}{wide:>9}"); tot[0] += n; tot[1] += wide
    print(f"{'total':<16}{tot[0]:>7}  {'':<44}{'':>6}{tot[1]:>9}\n")
    print(f"{'notebook':<22}{'exported cells':>15}{'longest (lines)':>17}{'exported before 1st demo':>26}{'show_doc cells':>16}")
    for nb, k, longest, before, sd in notebook_rows(root): print(f"{nb:<22}{k:>15}{longest:>17}{before:>26}{sd:>16}")
