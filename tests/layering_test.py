"""Fails when an #include crosses the architecture's arrows the wrong way.

Arrows (docs/architecture.md): core <- kernels <- models <- rollout <- learner <- job <- apps;
tokenizer on core only; data on core and tokenizer; rewards on core and proto. core,
tokenizer, rewards and data never include a torch header. A folder may include itself and
the folders listed for it in ALLOWED, which holds the edges the code really uses (written
down from `layering_test.py --edges`), so a new edge is a decision made in this file, not an
accident. bench/, tests/ and examples/ are not checked.

A self-test runs first: check() on a temporary tree must report a data/ file that
includes models/, a torch header in tokenizer/, and nothing for a clean tree.
Usage: layering_test.py REPO_ROOT      check (exit 1 on a violation)
       layering_test.py REPO_ROOT --edges   print the include edges the code uses
"""
import pathlib
import re
import sys
import tempfile

ALLOWED = {
    "core": {"core"},
    "tokenizer": {"core", "tokenizer"},
    "rewards": {"core", "rewards", "proto"},
    "data": {"core", "data", "tokenizer"},
    "kernels": {"core", "kernels"},
    "models": {"core", "kernels", "models"},
    "rollout": {"core", "kernels", "models", "rollout", "proto"},
    "learner": {"core", "kernels", "models", "rollout", "learner", "rewards", "data", "tokenizer"},
    "job": {"core", "kernels", "models", "rollout", "learner", "rewards", "data", "tokenizer", "job"},
    "apps": {"core", "models", "rollout", "learner", "rewards", "data", "tokenizer", "job", "apps"},
}
# Folders an #include can name: the checked ones and proto/ (generated gRPC headers).
KNOWN = set(ALLOWED) | {"proto"}
TORCH_FREE = {"core", "tokenizer", "rewards", "data"}
SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}
TORCH_HEADER = re.compile(r'#\s*include\s*[<"](torch/|ATen/|c10/|caffe2/)')
OWN = re.compile(r'#\s*include\s*"([a-z_]+)/([^"]+)"')


def includes(root: pathlib.Path, folder: str):
    """Yields (relative path, line number, line, included folder or None, torch header?)."""
    for f in sorted((root / folder).rglob("*")):
        if f.suffix not in SOURCE_SUFFIXES:
            continue
        rel = f.relative_to(root).as_posix()
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = OWN.search(line)
            target = m.group(1) if m and m.group(1) in KNOWN else None
            yield rel, n, line.strip(), target, bool(TORCH_HEADER.search(line))


def check(root: pathlib.Path) -> list[str]:
    errors = []
    for folder, allowed in ALLOWED.items():
        for rel, n, line, target, torch in includes(root, folder):
            if torch and folder in TORCH_FREE:
                errors.append(f"{rel}:{n}: torch header in a torch-free folder: {line}")
            if target and target not in allowed:
                errors.append(f"{rel}:{n}: {folder}/ may not include {target}/: {line}")
    return errors


def edges(root: pathlib.Path) -> dict[str, set[str]]:
    used = {}
    for folder in ALLOWED:
        used[folder] = {t for *_, t, _ in includes(root, folder) if t}
    return used


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)

        def write(rel, text):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)

        write("data/ok.cpp", '#include "data/ok.h"\n#include "tokenizer/tokenizer.h"\n')
        write("tokenizer/ok.cpp", '#include "core/error.h"\n#include <string>\n')
        write("apps/ok.cpp", '#include "job/job.h"\n#include <torch/torch.h>\n')
        assert check(root) == [], check(root)
        write("data/x.cpp", '#include "core/error.h"\n#include "models/y.h"\n')
        write("tokenizer/t.cpp", '#include <ATen/core/Tensor.h>\n#include "data/d.h"\n')
        errs = sorted(check(root))
        want = ["data/x.cpp:2: data/ may not include models/",
                "tokenizer/t.cpp:1: torch header in a torch-free folder",
                "tokenizer/t.cpp:2: tokenizer/ may not include data/"]
        assert len(errs) == len(want) and all(e.startswith(w) for e, w in zip(errs, want)), errs


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    if "--edges" in sys.argv[2:]:
        for folder, used in edges(root).items():
            print(f"{folder}: {sorted(used)}  (allowed, unused: {sorted(ALLOWED[folder] - used)})")
        sys.exit(0)
    self_test()
    errs = check(root)
    for e in errs:
        print(e)
    if errs:
        sys.exit(1)
    print("layering: ok (self-test passed)")
