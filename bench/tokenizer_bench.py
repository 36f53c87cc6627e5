#!/usr/bin/env python3
"""bench/tokenizer_bench.py: grpo's tokenizer next to Hugging Face `tokenizers` (Rust,
through its Python package) on the same corpus, in one run, single-threaded.

Builds a corpus (the golden texts of both real tokenizers plus Python standard-library
source, ~N MB), runs build-*/bench/tokenizer_bench on it, times `tokenizers` on the same
documents, checks both produce the same ids (FNV-1a checksum) and prints MB/s and ratios.
Times are process CPU time (both sides single-threaded), so a busy shared machine does not
skew the ratio; the load time is also given as wall time.

Usage: /opt/grpo/venv/bin/python bench/tokenizer_bench.py --bench BUILD/bench/tokenizer_bench
          [--tokenizer DIR ...] [--mb 4]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "tests", "fixtures", "tokenizers")  # real tokenizers + golden rows


def build_corpus(path, mb):
    docs = []
    for name in ("deepseek_v3", "qwen3"):
        with open(os.path.join(REAL, "golden", name + ".jsonl"), encoding="utf-8") as f:
            docs += [json.loads(l)["text"] for l in f if l.strip()]
    size = sum(len(d.encode()) for d in docs)
    for p in sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True)):
        if size >= mb * 1e6:
            break
        try:
            text = open(p, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        docs.append(text)
        size += len(text.encode())
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
    return docs, size


def hf_run(tok_dir, docs, size, repeats):
    t0, w0 = time.process_time(), time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    load_s, load_wall_s = time.process_time() - t0, time.perf_counter() - w0
    t = time.process_time()
    ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]
    cold = time.process_time() - t
    warm = 1e30
    for _ in range(repeats):
        t = time.process_time()
        ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]
        warm = min(warm, time.process_time() - t)
    dec = 1e30
    for _ in range(max(1, repeats)):
        t = time.process_time()
        for v in ids:
            tok.decode(v, skip_special_tokens=False)
        dec = min(dec, time.process_time() - t)
    h = 1469598103934665603
    n = 0
    for v in ids:
        n += len(v)
        for x in v:
            h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return {"impl": "hf_tokenizers", "tokens": n, "checksum": str(h), "load_s": load_s, "load_wall_s": load_wall_s,
            "encode_cold_mb_s": size / cold / 1e6, "encode_warm_mb_s": size / warm / 1e6,
            "decode_mb_s": size / dec / 1e6}


def train_compare(bench, docs, size, vocab, tmp):
    """Trains a byte-level BPE of `vocab` tokens on the corpus with both (HF: BpeTrainer with
    the 256-byte initial alphabet, one thread) and checks the merges are identical."""
    from tokenizers import models, pre_tokenizers, trainers
    text_path = os.path.join(tmp, "corpus.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        f.write("\n".join(docs))
    ours_path = os.path.join(tmp, "grpo_trained.json")
    g = json.loads(subprocess.run([bench, "--train", text_path, str(vocab), ours_path],
                                  check=True, capture_output=True, text=True).stdout)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t = time.process_time()
    tok.train([text_path], trainer=trainer)
    hf_s = time.process_time() - t
    same = (json.load(open(ours_path, encoding="utf-8"))["model"]["merges"]
            == json.loads(tok.to_str())["model"]["merges"])
    print(f"\ntrain byte-level BPE, vocab {vocab}, {size / 1e6:.2f} MB: merges identical: "
          f"{'yes' if same else 'NO'}")
    print(f"  {'train CPU (s)':22s}{g['train_s']:10.3f}{hf_s:10.3f}{g['train_s'] / hf_s:10.2f}x"
          "  (lower is better)")
    return same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path of the tokenizer_bench binary")
    ap.add_argument("--tokenizer", action="append",
                    default=None, help="tokenizer folder (default: both real ones)")
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-vocab", type=int, default=8000,
                    help="also time BPE training to this size (0: skip)")
    a = ap.parse_args()
    dirs = a.tokenizer or [os.path.join(REAL, n) for n in ("deepseek_v3", "qwen3")]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        docs, size = build_corpus(corpus, a.mb)
        print(f"corpus: {len(docs)} documents, {size / 1e6:.2f} MB (golden texts + Python sources)")
        ok = True
        for d in dirs:
            out = subprocess.run([a.bench, d, corpus, str(a.repeats)], check=True,
                                 capture_output=True, text=True).stdout
            g = json.loads(out.strip().splitlines()[-1])
            h = hf_run(d, docs, size, a.repeats)
            same = g["checksum"] == h["checksum"] and g["tokens"] == h["tokens"]
            ok &= same
            print(f"\n{os.path.basename(os.path.normpath(d))}: {g['tokens']} tokens, ids identical: {'yes' if same else 'NO'}")
            print(f"  {'':22s}{'grpo':>10s}{'hf':>10s}{'grpo/hf':>10s}")
            for k, label, better_low in (("load_s", "load CPU (s)", True),
                                         ("load_wall_s", "load wall (s)", True),
                                         ("encode_cold_mb_s", "encode cold (MB/s)", False),
                                         ("encode_warm_mb_s", "encode warm (MB/s)", False),
                                         ("decode_mb_s", "decode (MB/s)", False)):
                ratio = g[k] / h[k]
                print(f"  {label:22s}{g[k]:10.3f}{h[k]:10.3f}{ratio:10.2f}x"
                      + ("  (lower is better)" if better_low else ""))
        if a.train_vocab:
            ok &= train_compare(a.bench, docs, size, a.train_vocab, tmp)
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
