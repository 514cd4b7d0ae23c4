"""The servability check's process protocol, with stand-in children: one that never answers, one that prints
something else first (the real child, loading real versions, runs in every flow test's promotion)."""

import sys

import numpy as np
import pandas as pd

from tabflow.serving.servability import Checker

ROWS = pd.DataFrame({"x": [1.0, 2.0]})


def check(checker: Checker):
    try:
        return checker.check("models:/m/1", ROWS, np.zeros(2), "regression", ())
    finally:
        checker.close()


def test_a_child_that_never_answers_times_out():
    """Review L4: readline() had no deadline, so a stuck child held the training flow at promotion."""
    stuck = Checker([sys.executable, "-c", "import time; time.sleep(600)"], timeout_s=1)
    assert check(stuck) == "the check did not answer within 1 s"


def test_stray_output_before_the_answer_is_skipped():
    """Any other line (a library's print, an earlier answer) is not taken for the answer to this request."""
    child = (
        "import json, sys\n"
        "print('a library says hello', flush=True)\n"
        "print(json.dumps({'id': 'an-earlier-request', 'error': 'not this one'}), flush=True)\n"
        "request = json.loads(sys.stdin.readline())\n"
        "print(json.dumps({'id': request['id'], 'error': 'this one'}), flush=True)\n"
        "sys.stdin.readline()\n"
    )
    assert check(Checker([sys.executable, "-c", child], timeout_s=60)) == "this one"
