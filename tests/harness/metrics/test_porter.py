"""The NLTK-free Porter stemmer against NLTK's ``PorterStemmer()`` (the stemmer rouge_score uses)."""

from __future__ import annotations

import random
import re

from nltk.stem.porter import PorterStemmer

from harness.metrics import _porter

SUFFIXES = ("", "s", "es", "ies", "sses", "ied", "ed", "eed", "ing", "ational", "tional", "enci", "anci", "izer",
            "bli", "alli", "entli", "eli", "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness",
            "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate", "ative", "alize", "iciti", "ical",
            "ful", "ness", "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "sion",
            "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "y", "ly")
STEMS = ("run hop fil fail troubl conflat siz fizz hiss fall tann sky di li ti news inning outing canning howe "
         "proceed exceed succeed happ enjoy spy fl tr relat condit ration valen hesit digit conform radic differ "
         "vil analog vietnam predic oper feud decis hope call formal sensit sensib triplic form electr good reviv "
         "allow infer airlin gyroscop adjust defens irrit replac depend adopt homolog commun activ angular effect "
         "bowdler prob rat ceas control roll generous organ gener ys yy y syzyg toy ab a 12 x9 café").split()


def _vocabulary(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = {stem + s1 + s2 for stem in STEMS for s1 in SUFFIXES for s2 in ("", "s", "ing", "ed", "ly")}
    letters = "aeiouyybcdlmnrstwxz0"
    words.update("".join(rng.choice(letters) for _ in range(rng.randint(1, 12))) for _ in range(20000))
    return sorted(words)


def test_stem_identical_to_nltk() -> None:
    nltk = PorterStemmer()
    words = _vocabulary()
    assert len(words) > 40000
    mismatches = [(w, nltk.stem(w), _porter.stem(w)) for w in words if nltk.stem(w) != _porter.stem(w)]
    assert mismatches == []


def test_irregular_forms_and_case() -> None:
    nltk = PorterStemmer()
    for word in ("Skies", "DYING", "lying", "news", "Innings", "proceed", "Organizations", "GENEROUSLY", "ab", "A"):
        assert _porter.stem(word) == nltk.stem(word)
    assert _porter.stem("skies") == "sky" and _porter.stem("running") == "run" and _porter.stem("happy") == "happi"


def test_stem_of_alphanumeric_word_is_alphanumeric() -> None:
    # harness.metrics._rouge drops rouge_score's final token filter because of this
    valid = re.compile(r"^[a-z0-9]+$")
    assert all(valid.match(_porter.stem(w)) for w in _vocabulary(seed=1) if valid.match(w) and len(w) > 3)
