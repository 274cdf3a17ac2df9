"""The docs site as a reader sees it: a real headless Chromium opens the built home page and one API page, their
titles are right, every internal link on them resolves, and a screenshot is saved under _docs/. Runs when Chromium
is installed (CI installs Debian's `chromium` and sets STOCKNB_REQUIRE_BROWSER=1, so there it cannot be skipped)."""
import socket, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT/'_docs'

class Links(HTMLParser):
    "The <title> and every <a href> of a page."
    def __init__(self):
        super().__init__(); self.title, self.hrefs, self._in_title = '', [], False
    def handle_starttag(self, tag, attrs):
        if tag == 'title': self._in_title = True
        if tag == 'a' and dict(attrs).get('href'): self.hrefs.append(dict(attrs)['href'])
    def handle_endtag(self, tag):
        if tag == 'title': self._in_title = False
    def handle_data(self, data):
        if self._in_title: self.title += data

@pytest.fixture(scope='module')
def site():
    "The built site (built now if missing or older than a notebook), served over HTTP on a free port."
    newest = max(p.stat().st_mtime for p in (ROOT/'nbs').glob('*.ipynb'))
    if not (DOCS/'index.html').exists() or (DOCS/'index.html').stat().st_mtime < newest:
        subprocess.run([sys.executable, 'tools/docs.py'], cwd=ROOT, check=True, capture_output=True, timeout=1800)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    srv = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1', '--directory',
                            str(DOCS)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f'http://127.0.0.1:{port}/'
    for _ in range(100):
        try: socket.create_connection(('127.0.0.1', port), timeout=0.2).close(); break
        except OSError: time.sleep(0.1)
    yield base
    srv.terminate(); srv.wait(10)

@pytest.mark.parametrize('page,title', [('index.html', 'stocknb'), ('stacking.html', 'Stacking – stocknb')])
def test_page_renders_with_its_title_and_no_dead_internal_link(chromium, site, page, title):
    p = Links(); p.feed(chromium('--dump-dom', site + page).stdout)        # the DOM after the page's scripts ran
    assert p.title.strip() == title
    internal = [h for h in p.hrefs if urlparse(urljoin(site + page, h)).netloc == urlparse(site).netloc]
    assert len(internal) > 10, internal
    dead = []
    for h in internal:
        path = urlparse(urljoin(site + page, h)).path.lstrip('/') or 'index.html'
        if not (DOCS/path).exists(): dead.append(h)
    assert not dead, f"dead internal links on {page}: {dead}"

def test_screenshot_of_the_home_page(chromium, site):
    shot = DOCS/'screenshot.png'
    shot.unlink(missing_ok=True)
    chromium(f'--screenshot={shot}', '--window-size=1280,1600', site + 'index.html')
    data = shot.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 20_000      # a real rendering, not a blank page
