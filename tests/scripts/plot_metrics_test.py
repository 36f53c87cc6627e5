"""Unit test of scripts/plot_metrics.py's handling of a resumed run's metrics.jsonl.

Usage: plot_metrics_test.py REPO_ROOT
"""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(sys.argv.pop(1)) / "scripts"))
from plot_metrics import latest_run_view  # noqa: E402


class LatestRunView(unittest.TestCase):
    def test_a_resume_replaces_the_steps_it_repeats(self):
        # Steps 1-4 logged, checkpoint at 2, resumed: 3 and 4 come again, then 5.
        rows = [{"step": s, "v": f"a{s}"} for s in (1, 2, 3, 4)] + [{"step": s, "v": f"b{s}"} for s in (3, 4, 5)]
        got = [(r["step"], r["v"]) for r in latest_run_view(rows)]
        self.assertEqual(got, [(1, "a1"), (2, "a2"), (3, "b3"), (4, "b4"), (5, "b5")])

    def test_an_uninterrupted_run_is_kept_and_rows_without_step_dropped(self):
        rows = [{"step": 1}, {"note": "x"}, {"step": 2}, {"step": 2, "eval": 1}]
        self.assertEqual(latest_run_view(rows), [{"step": 1}, {"step": 2}, {"step": 2, "eval": 1}])


if __name__ == "__main__":
    unittest.main()
