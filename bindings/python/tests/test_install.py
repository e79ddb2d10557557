"""The package installs with pip into a venv on Debian's python3, offline:

    python3 -m venv --system-site-packages $D/venv
    $D/venv/bin/pip install --no-index --no-build-isolation ./bindings/python

(setup.py compiles libagentmon's sources with the binding's), and the
installed copy works from outside the checkout.
"""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SMOKE = r'''
import agentmon, sys
assert '/site-packages/agentmon/' in agentmon.__file__, agentmon.__file__
r = agentmon.CollectorRegistry()
agentmon.Counter('installed', 'Installed.', ['how'], registry=r).labels('pip').inc()
server, _ = agentmon.start_http_server(0, addr='127.0.0.1', registry=r)
import urllib.request
body = urllib.request.urlopen(f'http://127.0.0.1:{server.port}/metrics').read()
assert b'installed_total{how="pip"} 1' in body, body
server.shutdown()
print('ok', agentmon.__version__)
'''


def _clean_in_tree_build():
    """pip builds in the source folder (build/, *.egg-info): start from none
    (setuptools does not track header changes), leave none."""
    import glob
    import shutil
    pkg = os.path.join(ROOT, 'bindings', 'python')
    for d in [os.path.join(pkg, 'build')] + glob.glob(os.path.join(pkg, '*.egg-info')):
        shutil.rmtree(d, ignore_errors=True)


def test_pip_install_into_venv(tmpdir_path):
    if sys.executable != '/usr/bin/python3':
        pytest.skip('the recipe is for Debian\'s /usr/bin/python3')
    _clean_in_tree_build()
    venv = os.path.join(tmpdir_path, 'venv')
    subprocess.run(['/usr/bin/python3', '-m', 'venv', '--system-site-packages', venv],
                   check=True)
    pip = subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '--no-index',
                          '--no-build-isolation', os.path.join(ROOT, 'bindings', 'python')],
                         capture_output=True, text=True, cwd=tmpdir_path)
    _clean_in_tree_build()
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    run = subprocess.run([os.path.join(venv, 'bin', 'python'), '-c', SMOKE], capture_output=True,
                         text=True, cwd=tmpdir_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith('ok ')
