"""Checks that an event file written by grpo loads in TensorBoard's own reader with the
same scalars. Usage: tensorboard_check.py TB_WRITE_EXAMPLE OUT_DIR"""
import os
import shutil
import subprocess
import sys

from tensorboard.backend.event_processing import event_accumulator

exe, out = sys.argv[1], sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
subprocess.run([exe, out], check=True)
acc = event_accumulator.EventAccumulator(out)
acc.Reload()
tags = sorted(acc.Tags()["scalars"])
assert tags == ["loss", "reward/mean"], tags
for tag, fn in [("reward/mean", lambda s: 0.1 * s), ("loss", lambda s: 1.0 / s)]:
    events = acc.Scalars(tag)
    assert [e.step for e in events] == [1, 2, 3, 4, 5], events
    for e in events:
        assert abs(e.value - fn(e.step)) < 1e-6, (tag, e.step, e.value)
print("tensorboard reader: 2 tags x 5 steps match")
