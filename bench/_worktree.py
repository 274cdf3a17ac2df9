"""Another commit's code beside this checkout, for the benchmarks that compare the two in one run."""
import subprocess, tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

@contextmanager
def worktree(rev:str):
    "Yield `(short sha, folder)`: a detached git worktree of `rev` in a temporary folder, removed afterwards."
    sha = subprocess.run(['git', 'rev-parse', '--short', rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    wt = Path(tempfile.mkdtemp(prefix=f'stocknb-{sha}-'))/'tree'
    subprocess.run(['git', 'worktree', 'add', '--detach', '-q', str(wt), sha], cwd=ROOT, check=True)
    try: yield sha, wt
    finally: subprocess.run(['git', 'worktree', 'remove', '--force', str(wt)], cwd=ROOT, check=True)
