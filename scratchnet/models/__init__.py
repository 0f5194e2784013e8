"""The lecture's networks, one family per file, each readable next to its paper's table.

Constructors use torchvision's names where torchvision has the model (``vgg16``, ``resnet50``,
``densenet121``, ...) and the same style elsewhere (``nin``, ``inception_v4``, ``plain34``, ...).
"""

from scratchnet.models.alexnet import *
from scratchnet.models.vgg import *
from scratchnet.models.nin import *
from scratchnet.models.googlenet import *
from scratchnet.models.inception import *
from scratchnet.models.inception_v4 import *
from scratchnet.models.inception_resnet import *
from scratchnet.models.resnet import *
from scratchnet.models.resnet_cifar import *
from scratchnet.models.preact_resnet import *
from scratchnet.models.densenet import *
from scratchnet.models.senet import *
