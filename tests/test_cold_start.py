"""A one-question process cuts its question from dictionary tables, never loading a whole
dictionary, and must cut exactly as the whole dictionary does."""

import random

import pytest
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

from eval.questions import load_questions
from retrieval.embedding.question_pieces import QuestionPieces, write_piece_table
from retrieval.text.tokenize import Tokenizer as WordTokenizer

from .conftest import ROOT

QUESTIONS = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl", ROOT)]
ODD_TEXTS = ["", " ", "😀 温州 𠀀𠀁 ｆｕｌｌ　ｗｉｄｔｈ  two  spaces\t\ttabs", "Ⅰ-Ⅲ类 μg/m³ ≤35 ①②", "x" * 3000]


def test_a_question_cut_from_the_dictionary_table_is_cut_as_by_the_whole_dictionary(tmp_path):
    table = tmp_path / "jieba.sqlite"
    whole = WordTokenizer(dictionary_table=table)
    whole.tokens("温州", query=True)  # the first process loads the whole dictionary and writes the table
    assert table.exists()

    cold = WordTokenizer(dictionary_table=table)
    for text in QUESTIONS + ODD_TEXTS:
        assert cold.tokens(text, query=True) == whole.tokens(text, query=True), text
    assert "_jieba" not in cold.__dict__


def _unigram_tokenizer(path):
    """A small XLM-R-shaped Unigram tokenizer: specials first, <mask> last, and characters
    that only longer pieces hold, so an unknown-character path competes (priced from the
    vocabulary's lowest score)."""
    rng = random.Random(7)
    alphabet = "温州水质达标率国控断面abcdefg▁"
    pieces = sorted({"".join(rng.choices(alphabet, k=rng.randint(1, 4))) for _ in range(400)} - set("ab州"))
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, -rng.uniform(1, 15)) for p in pieces] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, 3))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken(p, special=True) for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    tok.save(str(path))
    return tok, alphabet


def test_question_pieces_give_the_ids_of_the_whole_vocabulary(tmp_path):
    whole, alphabet = _unigram_tokenizer(tmp_path / "tokenizer.json")
    assert write_piece_table(tmp_path / "tokenizer.json", tmp_path / "pieces.sqlite")
    pieces = QuestionPieces(tmp_path / "pieces.sqlite", "<pad>", 512)

    rng = random.Random(11)
    texts = ["".join(rng.choices(alphabet + " xyz?ＡＢ", k=rng.randint(1, 30))) for _ in range(300)] + ODD_TEXTS
    whole.enable_truncation(512)
    for text in texts:
        ids, mask = pieces.ids_and_mask([text])
        assert list(ids[0]) == whole.encode(text).ids, text
    batch = texts[:20]
    ids, mask = pieces.ids_and_mask(batch)
    whole.enable_padding(pad_id=1, pad_token="<pad>")
    assert [list(r) for r in ids] == [e.ids for e in whole.encode_batch(batch)]
    assert [list(r) for r in mask] == [e.attention_mask for e in whole.encode_batch(batch)]


def test_a_question_holding_a_special_token_is_left_to_the_whole_tokenizer(tmp_path):
    _unigram_tokenizer(tmp_path / "tokenizer.json")
    write_piece_table(tmp_path / "tokenizer.json", tmp_path / "pieces.sqlite")
    pieces = QuestionPieces(tmp_path / "pieces.sqlite", "<pad>", 512)
    assert pieces.handles(["温州水质"]) and not pieces.handles(["温州<mask>水质"])


def test_only_unigram_tokenizers_get_a_piece_table(tmp_path):
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.save(str(tmp_path / "tokenizer.json"))
    assert not write_piece_table(tmp_path / "tokenizer.json", tmp_path / "pieces.sqlite")
    assert not (tmp_path / "pieces.sqlite").exists()


@pytest.mark.model
def test_a_cold_start_encoder_gives_the_vectors_of_a_warm_one(real_engine):
    import numpy as np

    from retrieval.embedding.registry import encoder_for

    cold = encoder_for(real_engine.config.encoder, cold_start=True)
    texts = QUESTIONS[:40] + ODD_TEXTS
    assert np.allclose(cold.encode_queries(texts), real_engine.encoder.encode_queries(texts), atol=1e-6)
    assert "tokenizer" not in cold.__dict__  # questions never loaded the whole vocabulary
    folder = cold.folder
    assert (folder / "onnx" / "encoder.onnx").exists() and not (folder / "onnx" / "model.onnx").exists()


def test_a_damaged_dictionary_table_costs_speed_not_answers(tmp_path, caplog):
    table = tmp_path / "jieba.sqlite"
    table.write_bytes(b"not a database, whatever happened to it")
    cold = WordTokenizer(dictionary_table=table)
    with caplog.at_level("WARNING"):
        tokens = cold.tokens("温州国控断面水质", query=True)
    assert tokens == WordTokenizer().tokens("温州国控断面水质", query=True)
    assert "unusable" in caplog.text and "delete it" in caplog.text


def test_a_damaged_piece_table_leaves_questions_to_the_whole_tokenizer(tmp_path, caplog):
    from retrieval.embedding import onnx_encoder

    (tmp_path / onnx_encoder.PIECE_TABLE_FILE).write_bytes(b"broken")
    _unigram_tokenizer(tmp_path / "tokenizer.json")
    encoder = onnx_encoder.OnnxEncoder.__new__(onnx_encoder.OnnxEncoder)  # just the tokenizer parts
    encoder.folder, encoder._pad, encoder._max_length = tmp_path, "<pad>", 512
    with caplog.at_level("WARNING"):
        assert encoder._question_pieces() is None
    assert "whole tokenizer" in caplog.text


def test_a_piece_table_of_another_tokenizer_is_not_used(tmp_path):
    _unigram_tokenizer(tmp_path / "tokenizer.json")
    write_piece_table(tmp_path / "tokenizer.json", tmp_path / "pieces.sqlite")
    _unigram_tokenizer(tmp_path / "tokenizer.json")  # replaced (a new file, a new time stamp)
    import os
    os.utime(tmp_path / "tokenizer.json", ns=(1, 1))
    with pytest.raises(ValueError, match="another tokenizer.json"):
        QuestionPieces(tmp_path / "pieces.sqlite", "<pad>", 512)
