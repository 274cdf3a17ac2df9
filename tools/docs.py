"""Build README.md and the docs site offline.

    python tools/docs.py             # README.md and the site in _docs/
    python tools/docs.py --readme    # README.md only

nbdev's own preprocessing (`show_doc` rendered, hidden cells and export directives removed) writes
`_proc/`. With quarto on PATH, quarto renders it exactly as `nbdev_docs` would. Without quarto (it
cannot be installed offline) the pure-Python `smalldocs` renders the site from the same `_proc/`
and the same `_quarto.yml`, and the README is `index.ipynb` converted by nbconvert. Exits non-zero
on any failure."""
import argparse, json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def preprocess():
    "Run nbdev's docs preprocessing into _proc/ without letting it install quarto or the package."
    import nbdev.quarto as q
    q._ensure_quarto = lambda: None           # nbdev would download quarto and sudo-install it
    shutil.rmtree(ROOT/'_proc', ignore_errors=True)
    cache, cfg, _ = q._pre_docs(n_workers=1)
    return Path(cache), cfg

def _front_matter(nb):
    "Title and description from the raw front-matter cell nbdev writes, and the cells after it."
    cells = nb.cells
    if cells and cells[0].cell_type == 'raw' and cells[0].source.startswith('---'):
        import yaml
        fm = yaml.safe_load(cells[0].source.strip().strip('-')) or {}
        return fm.get('title', ''), fm.get('description', ''), cells[1:]
    return '', '', cells

def readme(cache:Path):
    "README.md from the processed index notebook (markdown and text outputs only)."
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.read(cache/'index.ipynb', 4)
    title, desc, nb.cells = _front_matter(nb)
    nb.metadata['language_info'] = {'name': 'python'}   # fenced code blocks tagged python
    for c in nb.cells:                         # keep README plain: text outputs only, no images
        if c.cell_type == 'code':
            for o in c.get('outputs', []):
                if 'data' in o: o['data'] = {k: v for k, v in o['data'].items() if k == 'text/plain'}
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\n{3,}', '\n\n', body).strip()
    head = ""
    text = head + (f"# {title}\n\n" if title else '') + (f"> {desc}\n\n" if desc else '') + body + '\n'
    (ROOT/'README.md').write_text(text, encoding='utf-8')
    print(f"wrote README.md ({len(text):,} characters)")

def site(cache:Path, cfg):
    "Render the site into _docs/ with quarto when present, else smalldocs."
    out = ROOT/cfg.doc_path.name
    shutil.rmtree(out, ignore_errors=True)
    if shutil.which('quarto'):
        subprocess.run(['quarto', 'render', '--no-cache'], cwd=cache, check=True)
        shutil.move(str(cache/cfg.doc_path.name), str(out))
    else:
        exe = shutil.which('smalldocs') or str(Path(sys.executable).parent/'smalldocs')
        subprocess.run([exe, 'render', str(cache)], check=True)
        built = cache/cfg.doc_path.name
        if not built.exists(): built = cache/'_site'
        if not (built/'index.html').exists(): sys.exit(f"docs build produced no index.html in {built}")
        shutil.move(str(built), str(out))
    pages = sorted(p.name for p in out.glob('*.html'))
    print(f"wrote {out.relative_to(ROOT)}/ ({len(pages)} pages: {', '.join(pages)})")
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--readme', action='store_true', help='build README.md only')
    a = ap.parse_args()
    cache, cfg = preprocess()
    readme(cache)
    if not a.readme: site(cache, cfg)

if __name__ == '__main__': main()
