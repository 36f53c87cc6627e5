"""Fails when an #include crosses the architecture's arrows the wrong way.

Arrows (../shared/ARCHITECTURE.md): core <- kernels <- models <- rollout <- learner <- apps;
rewards and data depend on core (data also on the torch-free tokenizer); rewards never
includes a torch header. A folder may include itself and the folders listed for it.
Usage: layering_test.py REPO_ROOT
"""
import pathlib
import re
import sys

ALLOWED = {
    "core": {"core"},
    "rewards": {"core", "rewards", "proto"},
    "kernels": {"core", "kernels"},
    "models": {"core", "kernels", "models"},
    "data": {"core", "data", "models/tokenizer"},
    "rollout": {"core", "kernels", "models", "rollout", "proto", "rewards", "data"},
    "learner": {"core", "kernels", "models", "rollout", "learner", "proto", "rewards", "data"},
    "job": {"core", "kernels", "models", "rollout", "learner", "proto", "rewards", "data", "job"},
    "apps": {"core", "kernels", "models", "rollout", "learner", "proto", "rewards", "data", "job", "apps"},
}
TORCH_FREE = {"core", "rewards", "data"}
TORCH_FREE_FILES = ("models/tokenizer/",)
TORCH_HEADER = re.compile(r'#\s*include\s*[<"](torch/|ATen/|c10/|caffe2/)')
OWN = re.compile(r'#\s*include\s*"([a-z_]+)/([^"]+)"')


def check(root: pathlib.Path) -> list[str]:
    errors = []
    for folder, allowed in ALLOWED.items():
        for f in sorted((root / folder).rglob("*")):
            if f.suffix not in {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}:
                continue
            rel = f.relative_to(root).as_posix()
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                if TORCH_HEADER.search(line) and (folder in TORCH_FREE or rel.startswith(TORCH_FREE_FILES)):
                    errors.append(f"{rel}:{n}: torch header in a torch-free folder: {line.strip()}")
                m = OWN.search(line)
                if not m:
                    continue
                target = m.group(1)
                if target not in ALLOWED and target != "proto":
                    continue
                ok = target in allowed or (target == "models" and "models/tokenizer" in allowed
                                           and m.group(2).startswith("tokenizer/"))
                if not ok:
                    errors.append(f"{rel}:{n}: {folder}/ may not include {target}/: {line.strip()}")
    return errors


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    errs = check(root)
    for e in errs:
        print(e)
    if errs:
        sys.exit(1)
    print("layering: ok")
