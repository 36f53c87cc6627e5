#!/usr/bin/env python3
"""tests/tokenizer/make_fixtures.py: small tokenizer.json files and their expected
encodings, made with Hugging Face `tokenizers` (the reference), for the C++ tests.

Each fixture is a tiny byte-level BPE trained by HF's BpeTrainer with one feature under
test (Split behaviors and invert, added-token lstrip/rstrip/single_word/normalized, NFC and
NFKC, ByteLevel add_prefix_space, TemplateProcessing, legacy "a b" merges). For each we
write fixtures/<name>.json and append rows {"fixture", "text", "add_special_tokens", "ids",
"decoded", "decoded_skip"} to fixtures/cases.jsonl. fixtures/real_tricky.jsonl holds HF's
ids for random strings of awkward characters with the two real tokenizers in
tests/fixtures/tokenizers.

Run from the repository root: /opt/grpo/venv/bin/python tests/tokenizer/make_fixtures.py
"""
import json
import os
import random

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers as pre
from tokenizers import processors, trainers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
REAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                    "tokenizers")

CORPUS = [
    "the-final--countdown is the final countdown",
    "Hello world! Hello, World? hello WORLD 123 4567 89",
    "Ça va? Café crème, naïve façade; ﬁne ﬂow ① ² ＡＢＣ",
    "  leading and trailing spaces   \n\tTabs\tand\nnew lines\r\n",
    "数学 123+456=579 😀 emoji 🎉 and CJK 日本語 テキスト",
    "x<mask>y <mask> z  <mask>  w [SEP] end<eot>",
] * 20

TEXTS = [
    "the-final--countdown",
    "--a--b-",
    "Hello world! Hello, World?",
    "  two  spaces   three   ",
    "Café vs Cafe\u0301 and ﬁne ① ＡＢＣ",
    "数学 123+456=579 😀",
    "x<mask>y <mask> z  <mask>  w",
    "<mask>",
    " <mask> ",
    "a<mask>b",
    "[SEP] [SEP]x",
    "tail<eot>",
    "",
    "\n\n\t \n",
]


def base(pre_tokenizer, normalizer=None, vocab=300, specials=()):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(specials),
                                  initial_alphabet=pre.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def byte_level(prefix=False):
    return pre.ByteLevel(add_prefix_space=prefix, use_regex=False)


def fixtures():
    out = {}
    for behavior in ("removed", "isolated", "merged_with_previous", "merged_with_next",
                     "contiguous"):
        for invert in (False, True):
            name = f"split_{behavior}" + ("_invert" if invert else "")
            out[name] = base(pre.Sequence([pre.Split("-", behavior, invert=invert),
                                           byte_level()]))
    out["split_regex_lookahead"] = base(pre.Sequence([
        pre.Split(Regex(r"\s+(?!\S)|\s+|\p{N}{1,3}|[^\s\p{N}]+"), "isolated"), byte_level()]))
    out["gpt2_prefix_space"] = base(pre.ByteLevel(add_prefix_space=True, use_regex=True))
    out["nfc"] = base(pre.ByteLevel(add_prefix_space=False), normalizers.NFC())
    out["nfkc"] = base(pre.ByteLevel(add_prefix_space=False), normalizers.NFKC())

    t = base(pre.ByteLevel(add_prefix_space=False), normalizers.NFKC(), specials=["<eot>"])
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)])
    t.add_tokens([AddedToken("[SEP]", single_word=True, normalized=True)])
    out["added_lstrip_single_word"] = t
    t = base(pre.ByteLevel(add_prefix_space=False), specials=["<eot>"])
    t.add_special_tokens([AddedToken("<mask>", lstrip=False, rstrip=True, normalized=False)])
    out["added_rstrip"] = t

    t = base(pre.ByteLevel(add_prefix_space=False), specials=["<s>", "</s>"])
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", t.token_to_id("<s>")),
                                              ("</s>", t.token_to_id("</s>"))])
    out["template"] = t
    return out


# Characters where regex engines and Unicode tables disagree most: every White_Space code
# point, U+180E (space in PCRE2's \s, not in Oniguruma's), zero-width and joiner
# characters, combining marks, case-folding oddities, digits of several scripts, astral
# planes, control bytes, contractions and added tokens of both real tokenizers.
TRICKY = (list(" \t\n\r\x0b\x0c\x85\xa0\u1680\u180e\u2000\u2009\u200a\u200b\u2028\u2029"
               "\u202f\u205f\u3000\ufeff")
          + list("aZ09'sSdDmMlLtTvVrRe_-+=!?.,;:\"()[]{}<>|/\\@#$%^&*~`")
          + list("éÉßİıĳǅǈΣσςЖж中文日本語テキストひらがな한국어١٢٣४५६७８９①²½ⅫⅧ")
          + ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "\u0301", "e\u0301", "\u200d", "\ufe0f", "\x00",
             "\x01", "\x7f", "\U00010000", "\U0010FFFF", "<|im_end|>", "<|endoftext|>",
             "<think>", "'re", "'LL", " 's", "  ", "\n\n", "1234", "<｜end▁of▁sentence｜>",
             "<｜User｜>"])


def real_tricky(n=400):
    """Random strings over TRICKY and a few long runs, encoded by HF with both real tokenizers."""
    rng = random.Random(7)
    texts = ["".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 30))) for _ in range(n)]
    # Long pre-tokens (> 32 bytes take the heap merge path in grpo).
    texts += ["a" * 100, " " * 1000 + "b", "abc" * 40, "x" + "\n" * 70, "é" * 40,
              "supercalifragilisticexpialidocious" * 3, "数学" * 30, "😀" * 12, "\t " * 40 + "z"]
    rows = []
    for name in ("deepseek_v3", "qwen3"):
        tok = Tokenizer.from_file(os.path.join(REAL, name, "tokenizer.json"))
        for t in texts:
            ids = tok.encode(t, add_special_tokens=False).ids
            rows.append({"tokenizer": name, "text": t, "ids": ids,
                         "decoded": tok.decode(ids, skip_special_tokens=False)})
    with open(os.path.join(HERE, "real_tricky.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def hf_trained():
    """HF BpeTrainer (GPT-2 byte-level, vocab 1000, min_frequency 2, no special tokens) on the
    texts of golden/deepseek_v3.jsonl, fed line by line ('\n' kept) as HF reads files:
    grpo's train_bpe must produce the same vocabulary and merges."""
    texts = [json.loads(l)["text"] for l in open(os.path.join(REAL, "golden", "deepseek_v3.jsonl"),
                                                 encoding="utf-8") if l.strip()]
    lines = []
    for t in texts:
        parts = t.split("\n")
        lines += [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainer=trainers.BpeTrainer(
        vocab_size=1000, min_frequency=2, initial_alphabet=pre.ByteLevel.alphabet(),
        show_progress=False))
    tok.save(os.path.join(HERE, "hf_trained_deepseek_golden_1000.json"))


def hf_trained_split_digits():
    """As hf_trained, with digits split first: pre-tokenizer Sequence[Split(" ?\\p{N}",
    Isolated), ByteLevel] (grpo train-tokenizer --split-digits), vocab 600."""
    texts = [json.loads(l)["text"] for l in open(os.path.join(REAL, "golden", "deepseek_v3.jsonl"),
                                                 encoding="utf-8") if l.strip()]
    lines = []
    for t in texts:
        parts = t.split("\n")
        lines += [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre.Sequence([pre.Split(Regex(r" ?\p{N}"), "isolated"),
                                      pre.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainer=trainers.BpeTrainer(
        vocab_size=600, min_frequency=2, initial_alphabet=pre.ByteLevel.alphabet(),
        show_progress=False))
    tok.save(os.path.join(HERE, "hf_trained_split_digits_600.json"))


def main():
    os.makedirs(HERE, exist_ok=True)
    real_tricky()
    hf_trained()
    hf_trained_split_digits()
    rows = []
    for name, tok in fixtures().items():
        path = os.path.join(HERE, name + ".json")
        tok.save(path)
        if name == "gpt2_prefix_space":  # also the legacy merges spelling "a b"
            data = json.load(open(path, encoding="utf-8"))
            data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
            legacy = os.path.join(HERE, "gpt2_legacy_merges.json")
            json.dump(data, open(legacy, "w", encoding="utf-8"), ensure_ascii=False)
            names = [(name, tok), ("gpt2_legacy_merges", Tokenizer.from_file(legacy))]
        else:
            names = [(name, Tokenizer.from_file(path))]
        for n, t in names:
            for text in TEXTS:
                for special in (False, True):
                    ids = t.encode(text, add_special_tokens=special).ids
                    rows.append({"fixture": n, "text": text, "add_special_tokens": special,
                                 "ids": ids, "decoded": t.decode(ids, skip_special_tokens=False),
                                 "decoded_skip": t.decode(ids, skip_special_tokens=True)})
    with open(os.path.join(HERE, "cases.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases for {len(set(r['fixture'] for r in rows))} fixtures to {HERE}")


if __name__ == "__main__":
    main()
