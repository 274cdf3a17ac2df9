"""Developer helper: turn a jupytext percent script into a notebook in nbs/, keeping the outputs
already in the notebook where the cell source is unchanged. Usage: python tools/nbsync.py SRC.py NB.ipynb"""
import sys, nbformat, jupytext

def main(src, dst):
    new = jupytext.read(src)
    new.metadata = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}
    for c in new.cells: c.metadata = {}
    try: old = nbformat.read(dst, 4)
    except FileNotFoundError: old = None
    if old is not None:
        outs = {c.source: c.get('outputs', []) for c in old.cells if c.cell_type == 'code'}
        ids = {(c.cell_type, c.source): c.get('id') for c in old.cells}
        for c in new.cells:
            if c.cell_type == 'code': c.outputs = outs.get(c.source, [])
            if ids.get((c.cell_type, c.source)): c.id = ids[(c.cell_type, c.source)]   # stable ids: no churn in exported modules
    nbformat.validate(new)
    nbformat.write(new, dst)

if __name__ == '__main__': main(*sys.argv[1:3])
