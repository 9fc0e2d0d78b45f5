from .base_text_neck import BaseTextNeck
from .capm import CAPM
from .lgfa import LGFA
from .tmem import TMEM

__all__ = ['BaseTextNeck', 'CAPM', 'LGFA', 'TMEM']
