"""host:pid liveness: only a dead process of this host counts as dead."""

import os
import socket
import subprocess
import sys

from tabflow.liveness import is_dead, worker_id


def test_this_process_is_alive_and_a_finished_one_is_dead():
    assert worker_id() == f"{socket.gethostname()}:{os.getpid()}"
    assert not is_dead(worker_id()), "this very process is alive"
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert done.returncode == 0 and is_dead(f"{socket.gethostname()}:{finished.pid}"), "an exited process is dead"


def test_other_hosts_and_garbage_are_left_alone():
    assert not is_dead("another-host:1"), "work of another host is never declared dead here"
    assert not is_dead(""), "no worker recorded: not ours to clean up"
    assert not is_dead(f"{socket.gethostname()}:notapid")
