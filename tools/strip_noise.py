"""Developer helper: drop stderr lines of an executed notebook that are machine noise, not results
(TensorFlow's CUDA-not-found and CPU-feature start-up lines, tf.function retracing notices).
Usage: python tools/strip_noise.py NB.ipynb [NB.ipynb ...]"""
import re, sys, nbformat

NOISE = re.compile(r'(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR'
                   r'|^[IEW]\d{4} .*(cudart_stub|cuda_platform|cuda_dnn|cuda_fft|cuda_blas|cpu_feature_guard|port\.cc).*'
                   r'|^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.'
                   r'|^WARNING:tensorflow:.*triggered tf\.function retracing.*)$')

def strip(path):
    nb = nbformat.read(path, 4)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        keep = []
        for o in c.get('outputs', []):
            if o.output_type == 'stream' and o.name == 'stderr':
                lines = [l for l in o.text.splitlines() if l.strip() and not NOISE.search(l)]
                if not lines: continue
                o.text = '\n'.join(lines) + '\n'
            keep.append(o)
        c.outputs = keep
    nbformat.write(nb, path)

if __name__ == '__main__':
    for p in sys.argv[1:]: strip(p)
