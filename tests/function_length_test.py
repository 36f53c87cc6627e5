"""Fails when a C++/CUDA function in the repository is longer than the limit (120 lines).

A function is a brace block opened directly inside a namespace, class/struct body or at
file scope, after a declarator with a parameter list; its length runs from the first line
of its signature to its closing brace. Comments, strings and character literals are
skipped. Usage: function_length_test.py REPO_ROOT [--limit N] [--top K]
"""
import pathlib
import re
import sys

SOURCES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}
SKIP_DIRS = {"build", ".git", "third_party"}
CONTAINER = re.compile(r"\b(namespace|class|struct|union|enum)\b[^;()]*$|extern\s+\"C\"\s*$")


def strip(text: str) -> str:
    """Blanks out comments, string and char literals, keeping newlines."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + (m.group(1) if m else "") + '"', i)
            j = n if end < 0 else end + len(m.group(1) if m else "") + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j + 1, n) - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path: pathlib.Path):
    text = strip(path.read_text(errors="replace"))
    stack = []  # kinds of open blocks: "container", "function", "block"
    stmt_start = 0  # offset where the current statement (text before a '{') began
    for i, c in enumerate(text):
        if c == "{":
            head = text[stmt_start:i]
            in_scope = all(k[0] == "container" for k in stack)
            if CONTAINER.search(head.strip()):
                kind = "container"
            elif in_scope and "(" in head and not head.strip().endswith("="):
                kind = "function"
            else:
                kind = "block"
            start_line = text.count("\n", 0, stmt_start + len(head) - len(head.lstrip())) + 1
            stack.append((kind, start_line))
            stmt_start = i + 1
        elif c == "}":
            if stack:
                kind, start_line = stack.pop()
                if kind == "function":
                    end_line = text.count("\n", 0, i) + 1
                    yield start_line, end_line
            stmt_start = i + 1
        elif c == ";" or (c == ":" and text[i - 1 : i + 1] != "::" and text[i : i + 2] != "::"
                          and re.search(r"\b(public|private|protected)\s*$", text[stmt_start:i])):
            stmt_start = i + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):
            j = text.find("\n", i)
            stmt_start = len(text) if j < 0 else j  # a preprocessor line ends a statement


def scan(root: pathlib.Path):
    rows = []
    for f in sorted(root.rglob("*")):
        if f.suffix not in SOURCES or any(p in SKIP_DIRS or p.startswith("build") for p in f.relative_to(root).parts):
            continue
        for a, b in functions(f):
            rows.append((b - a + 1, f.relative_to(root).as_posix(), a))
    rows.sort(reverse=True)
    return rows


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "x.cpp"
        body = "\n".join("  x += 1;  // {" for _ in range(10))
        p.write_text('namespace a {\nstruct S {\n  int f() {\n    return 1;\n  }\n};\n'
                     'int g(int x,\n      int y) {\n' + body + '\n  const char* s = "}";\n  return x;\n}\n}\n')
        got = sorted((b - a + 1) for a, b in functions(p))
        assert got == [3, 15], got


if __name__ == "__main__":
    args = sys.argv[1:]
    limit, top = 120, 5
    if "--limit" in args:
        limit = int(args[args.index("--limit") + 1])
    if "--top" in args:
        top = int(args[args.index("--top") + 1])
    root = pathlib.Path(args[0] if args and not args[0].startswith("--") else ".")
    self_test()
    rows = scan(root)
    for n, f, line in rows[:top]:
        print(f"{n:5d} lines  {f}:{line}")
    long = [r for r in rows if r[0] > limit]
    if long:
        print(f"{len(long)} function(s) longer than {limit} lines")
        sys.exit(1)
    print(f"function length: ok (longest {rows[0][0]} lines, limit {limit})")
