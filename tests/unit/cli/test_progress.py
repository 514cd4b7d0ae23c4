"""The trials' progress: a tqdm bar on a terminal, plain lines anywhere else (CI, logs, Prefect workers)."""

import importlib
import logging

main = importlib.import_module("tabflow.cli.main")  # the module: tabflow.cli re-exports its main() by that name


def record(message: str, trials=None) -> logging.LogRecord:
    rec = logging.LogRecord("tabflow", logging.INFO, __file__, 1, message, None, None)
    if trials is not None:
        rec.trials = trials
    return rec


def test_on_a_terminal_the_trials_are_a_bar_with_the_best_so_far(capsys):
    bar = main._TrialBar()
    bar.setFormatter(logging.Formatter("%(message)s"))
    for n, best in ((1, 0.5), (2, 0.25), (3, 0.25)):
        bar.emit(record(f"trial {n}/3", (n, 3, "val_log_loss", best)))
    bar.emit(record("data      binary: 569 rows"))
    out = capsys.readouterr().out
    assert "trials: 100%" in out and "3/3" in out and "best val_log_loss 0.2500" in out, out
    assert "trial 1/3" not in out, "the bar replaces the per-trial lines"
    assert out.rstrip().endswith("data      binary: 569 rows"), "other lines print as they are"


def test_off_a_terminal_every_trial_is_a_plain_line(capsys, monkeypatch):
    for name in ("handlers", "propagate", "level"):  # _show_progress changes all three: put them back after
        monkeypatch.setattr(main.log, name, getattr(main.log, name) if name != "handlers" else [])
    main._show_progress()
    assert type(main.log.handlers[0]) is main._CurrentStdout, "pytest's stdout is not a terminal"
    main.log.info("trial %d/%d", 1, 3, extra={"trials": (1, 3, "val_log_loss", 0.5)})
    assert capsys.readouterr().out == "trial 1/3\n"
