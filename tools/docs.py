"""Build README.md and the docs site offline.

    python tools/docs.py             # README.md and the site in _docs/
    python tools/docs.py --readme    # README.md only

nbdev's own preprocessing (`show_doc` rendered, hidden cells and export directives removed) writes
`_proc/`. With quarto on PATH, quarto renders it exactly as `nbdev_docs` would. Without quarto (it
cannot be installed offline) the pure-Python `smalldocs` renders the site from the same `_proc/`
and the same `_quarto.yml`, and the README is `index.ipynb` converted by nbconvert. Exits non-zero
on any failure, on any internal link (in the site or the README) that does not resolve, and on any
heading repeated on a page (an API entry documented twice).

Pages are named as nbdev and quarto name them, from each notebook's `output-file` (`00_core.ipynb`
becomes `core.html`), so the links nbdev writes (`…/core.html#check_symbol`) work. Links to the
published site (`doc_host` + `doc_baseurl`) are made relative in the built pages, so the same site
works opened from disk and served from its host. To read it: `python -m http.server -d _docs`
and open http://localhost:8000, or open `_docs/index.html` in a browser."""
import argparse, html.parser, json, re, shutil, subprocess, sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

def preprocess():
    "Run nbdev's docs preprocessing into _proc/ without letting it install quarto or the package."
    import nbdev.quarto as q, nbdev.processors as pr
    q._ensure_quarto = lambda: None           # nbdev would download quarto and sudo-install it
    def _def_names(cell, shown):              # nbdev 2.4.14 misses an explicit `show_doc(Class.method)` of a
        cellp = cell.parsed_()                # `@patch`ed method and documents it a second time
        return [pr.showdoc_nm(o) for o in pr.concat(cellp) if isinstance(o, pr._def_types) and o.name not in shown
                and pr.showdoc_nm(o) not in shown and (o.name[0] != '_' or o.name[:2] == '__')] if cellp else []
    pr._def_names = _def_names
    import nbdev.serve as sv                  # nbdev processes each notebook in a *spawned* worker, which imports
    from fastcore.foundation import L         # nbdev afresh and so never sees the fix above: process in this one
    sv.parallel = lambda f, items, *args, **kw: L(f(o) for o in items)
    shutil.rmtree(ROOT/'_proc', ignore_errors=True)
    cache, cfg, _ = q._pre_docs(n_workers=1)
    unlink_private(Path(cache))
    return Path(cache), cfg

def unlink_private(cache:Path):
    "nbdev links every backticked name it indexes, private helpers too, which have no documentation to link to."
    pat = re.compile(r'\[`(_\w+)`\]\([^)\s]*#_\w+\)')
    for nb in cache.glob('*.ipynb'):
        txt = nb.read_text(encoding='utf-8')
        new = pat.sub(r'`\1`', txt)
        if new != txt: nb.write_text(new, encoding='utf-8')

def name_pages(cache:Path):
    "Rename each processed notebook after its `output-file` (what quarto would call the page) and fix the sidebar."
    renamed = {}
    for nb in sorted(cache.glob('*.ipynb')):
        d = json.loads(nb.read_text(encoding='utf-8'))
        src = ''.join(d['cells'][0]['source']) if d['cells'] and d['cells'][0]['cell_type'] == 'raw' else ''
        m = re.search(r'^output-file:\s*(\S+)\.html\s*$', src, re.M)
        if not m: continue
        d['cells'][0]['source'] = re.sub(r'^output-file:.*\n', '', src, flags=re.M)
        target = cache/f'{m.group(1)}.ipynb'
        nb.unlink(); target.write_text(json.dumps(d, indent=1), encoding='utf-8')
        renamed[nb.name] = target.name
    side = cache/'sidebar.yml'
    if side.exists():
        txt = side.read_text(encoding='utf-8')
        for a, b in renamed.items(): txt = re.sub(rf'(?<![\w/]){re.escape(a)}\b', b, txt)
        side.write_text(txt, encoding='utf-8')
    return renamed

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

def site_url(cfg) -> str:
    "The published site's address, ending in '/'."
    return cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/') + '/'

def relative_links(out:Path, cfg):
    "Make links to the published site relative, so the built site also works from disk."
    url = site_url(cfg)
    for f in out.rglob('*.html'):
        txt = f.read_text(encoding='utf-8')
        new = txt.replace(f'href="{url}', 'href="')
        if new != txt: f.write_text(new, encoding='utf-8')

class _Links(html.parser.HTMLParser):
    "Collects hrefs/srcs and element ids of one HTML page."
    def __init__(self):
        super().__init__(); self.links, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ('href', 'src') and v: self.links.append(v)
            if k in ('id', 'name') and v: self.ids.add(v)

def _parse(f:Path) -> _Links:
    p = _Links(); p.feed(f.read_text(encoding='utf-8')); return p

def check_links(out:Path, cfg) -> list:
    "Every internal link of the site and every README link to the published site must name an existing page and anchor."
    pages, dead = {f: _parse(f) for f in out.rglob('*.html')}, []
    def check(where, link, base:Path):
        u = urlsplit(link)
        if u.scheme or link.startswith(('//', 'mailto:', 'javascript:')): return
        target = (base.parent/u.path).resolve() if u.path else where.resolve() if isinstance(where, Path) else None
        if target is None or not target.exists() or (target.is_dir() and not (target/'index.html').exists()):
            dead.append(f"{where}: {link} (no such file)"); return
        if target.is_dir(): target = target/'index.html'
        if u.fragment and target.suffix == '.html':
            ids = pages[target].ids if target in pages else _parse(target).ids
            if u.fragment not in ids: dead.append(f"{where}: {link} (no anchor #{u.fragment})")
    for f, p in pages.items():
        for link in p.links: check(f, link, f)
    url = site_url(cfg)
    for link in re.findall(r'\]\((\S+?)\)', (ROOT/'README.md').read_text(encoding='utf-8')):
        if link.startswith(url): check(Path('README.md'), link[len(url):] or 'index.html', out/'index.html')
    return dead

def duplicate_headings(out:Path) -> list:
    "Headings that appear more than once on a page (an API entry documented twice), as 'page: heading × n'."
    found = []
    for f in sorted(out.glob('*.html')):
        hs = re.findall(r'<h([1-6])\b[^>]*>(.*?)</h\1>', f.read_text(encoding='utf-8'), re.S)
        names = [re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', '', h)).strip() for _, h in hs]
        found += [f"{f.name}: {n} × {names.count(n)}" for n in dict.fromkeys(names) if n and names.count(n) > 1]
    return found

def split_descriptions(nbs:Path) -> list:
    "Notebooks whose `> description` under the title spans lines: the page would show only its first line."
    import nbformat
    found = []
    for f in sorted(nbs.glob('*.ipynb')):
        title = next((c for c in nbformat.read(f, 4).cells if c.cell_type == 'markdown' and c.source.startswith('# ')),
                     None)
        quote = title.source.split('\n\n')[1].splitlines() if title and '\n\n' in title.source else []
        if quote and quote[0].startswith('>') and len(quote) > 1: found.append(f"{f.name}: {len(quote)} lines")
    return found

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
    relative_links(out, cfg)
    pages = sorted(p.name for p in out.glob('*.html'))
    print(f"wrote {out.relative_to(ROOT)}/ ({len(pages)} pages: {', '.join(pages)})")
    dead = check_links(out, cfg)
    if dead: sys.exit(f"{len(dead)} dead internal link(s):\n" + '\n'.join(dead[:50]))
    print("every internal link of the site and of the README resolves")
    dup = duplicate_headings(out)
    if dup: sys.exit(f"{len(dup)} heading(s) repeated on a page:\n" + '\n'.join(dup[:50]))
    print("no heading is repeated on any page")
    cut = split_descriptions(ROOT/cfg.nbs_path.name)
    if cut: sys.exit(f"{len(cut)} page description(s) over several lines (write each on one line):\n" + '\n'.join(cut))
    print("every page description is one line")
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--readme', action='store_true', help='build README.md only')
    a = ap.parse_args()
    cache, cfg = preprocess()
    readme(cache)
    if not a.readme:
        name_pages(cache)
        site(cache, cfg)

if __name__ == '__main__': main()
