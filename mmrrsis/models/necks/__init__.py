from .capm import CAPM
from .lgfa import LGFA
from .tmem import TMEM

__all__ = ['CAPM', 'LGFA', 'TMEM']
