"""tools/analysis_tools/splitter_agreement.py on tiny sentence lists."""
import json
import os.path as osp

import pytest
from tool_test_utils import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'splitter',
                     'official_reference.jsonl')


def _tool():
    return load_script('tools/analysis_tools/splitter_agreement.py')


def _tiny_reference(tmp_path, texts):
    first = {}
    for line in open(REFERENCE):
        r = json.loads(line)
        first.setdefault(r['text'], r)
    rows = [first[t] for t in texts if t in first]
    assert len(rows) == len(texts)
    path = tmp_path / 'tiny.jsonl'
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return str(path)


def test_rates_on_a_tiny_list(tmp_path, capsys):
    tool = _tool()
    ref = _tiny_reference(tmp_path, [
        'vehicle on the road', 'the car in the bottom left',
        'the storage tank at the bottom', 'the building with a blue roof'])
    out = tmp_path / 'rates.json'
    rates = tool.main(['--reference', ref, '--out', str(out), '--show', '5'])
    printed = capsys.readouterr().out
    # "blue" after "a": NLTK says NN, the rule tagger JJ: the one miss
    assert "'the building with a blue roof'" in printed
    assert 'blue/NN' in printed and 'blue/JJ' in printed
    assert list(rates) == ['refsegrs', 'rrsisd', 'refsegrs-heldout', 'all']
    assert rates['all']['sentences'] == 4
    assert rates['all']['object_exact'] == 100.0
    assert rates['all']['spatial_exact'] == 75.0
    assert rates['refsegrs-heldout']['fallback_test'] == 100.0
    assert rates['refsegrs-heldout']['fallback_official'] == 0.0
    assert 0 < rates['all']['spatial_tokens'] < 100
    assert json.loads(out.read_text()) == json.loads(json.dumps(rates))
    # every word here is one word piece: the offsets placement agrees too
    rates = tool.main(['--reference', ref, '--placement', 'offsets'])
    assert rates['all']['spatial_exact'] == 75.0


def test_sentence_files_and_errors(tmp_path):
    tool = _tool()
    path = tmp_path / 'my.txt'
    path.write_text('# comment\nrrsisd\tthe ship at the top\na car\n')
    rows = tool.read_sentences(str(path), 'refsegrs')
    assert [(r['class_words'], r['text']) for r in rows] == [
        ('rrsisd', 'the ship at the top'), ('refsegrs', 'a car')]
    with pytest.raises(SystemExit):  # new sentences need NLTK
        tool.main(['--sentences', str(path)])
    with pytest.raises(SystemExit):
        tool.main(['--verify'])
