"""Fails when a file of the repository points at the directory that sits beside the
checkout on CI machines only (the parent folder's `shared`): a user's clone has none, so
tests, docs and the demo must use what the repository carries (tests/fixtures/, docs/).

Checks every file tracked by git (`git ls-files`), or, outside a git checkout, every file
under the root except build outputs. The patterns are built from pieces so that this file
does not match itself. A self-test on a temporary tree runs first.
Usage: no_shared_refs_test.py REPO_ROOT
"""
import os
import pathlib
import subprocess
import sys
import tempfile

_SH = "sha" + "red"
PATTERNS = [
    (".." + "/" + _SH).encode(),                  # a relative path to it
    ("/work/" + _SH).encode(),                    # the absolute path on CI machines
    ("GRPO_" + _SH.upper() + "_DIR").encode(),    # the old CMake/C++ define
    ('"..", "' + _SH + '"').encode(),             # the same as os.path.join() arguments
]
SKIP_DIRS = {".git", "runs", "__pycache__"}


def tracked_files(root: pathlib.Path) -> list[pathlib.Path]:
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True,
                             check=True).stdout
        names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
        if names:
            return [root / n for n in names]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("build"))
        files += [pathlib.Path(d) / n for n in sorted(names)]
    return files


def check(root: pathlib.Path) -> list[str]:
    errors = []
    for f in tracked_files(root):
        if not f.is_file():  # deleted in the work tree but still in the index
            continue
        data = f.read_bytes()
        for p in PATTERNS:
            at = data.find(p)
            if at >= 0:
                line = data.count(b"\n", 0, at) + 1
                errors.append(f"{f.relative_to(root).as_posix()}:{line}: mentions "
                              f"{p.decode()!r} (use tests/fixtures/ or docs/ instead)")
    return errors


def self_test():
    """The checker must flag each pattern in an untracked tree and pass a clean one."""
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "ok.md").write_text("see docs/architecture.md and tests/fixtures/\n")
        (root / "build").mkdir()
        (root / "build" / "CMakeCache.txt").write_bytes(PATTERNS[0])  # build outputs: ignored
        assert check(root) == [], check(root)
        for i, p in enumerate(PATTERNS):
            (root / f"bad{i}.txt").write_bytes(b"x\ny " + p + b"/data\n")
        errs = check(root)
        assert len(errs) == len(PATTERNS), errs
        assert all(f"bad{i}.txt:2:" in e for i, e in enumerate(errs)), errs


if __name__ == "__main__":
    self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    errs = check(root)
    for e in errs:
        print(e)
    if errs:
        sys.exit(1)
    print("no_shared_refs: ok")
