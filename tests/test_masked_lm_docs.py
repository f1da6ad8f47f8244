"""Every Python code block of docs/masked_lm.md runs offline from the repository root (in a
subprocess, as a reader would paste it)."""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(REPO, "docs", "masked_lm.md")
BLOCKS = re.findall(r"```python\n(.*?)```", open(PAGE, encoding="utf-8").read(), flags=re.S)


def test_the_page_has_code():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_code_block_runs(index):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2",
               HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
