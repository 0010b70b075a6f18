"""A fast (BPE, SentencePiece-style) tokenizer trained on the training text, saved as ``tokenizer.json``.

DeBERTa-v3's own tokenizer is SentencePiece; serving reads ``tokenizer.json`` through the
``tokenizers`` library so that neither sentencepiece nor protobuf is needed at serving time.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

PAD, CLS, SEP, UNK, MASK = "[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = [PAD, CLS, SEP, UNK, MASK]  # ids 0..4, the DeBERTa-v3 layout


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    # BPE, not Unigram: tokenizers' Unigram and WordPiece trainers are not deterministic run to run,
    # and "same seed, same model" includes the vocabulary.
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", pair=f"{CLS} $A {SEP} $B {SEP}", special_tokens=[(CLS, cls_id), (SEP, sep_id)]
    )
    return tokenizer
