"""Runnable lessons: the lecture's arithmetic, recomputed from the real scratchnet models.

Each lesson is a module with ``main(argv=None)``; run one with ``python -m
scratchnet.lessons.<name>`` (``--json`` for machine-readable output, ``--plot PATH`` for its
figure), and list them all with ``python -m scratchnet.lessons``. Every number a lesson prints is
computed from a real model or layer; the lecture's and the papers' figures are shown beside them,
with the reason wherever the two disagree. ``docs/lessons.md`` says what each one teaches and which
source files to read next.
"""

# Name -> what it teaches, in the order of the lecture. Importing this package imports no lesson.
LESSONS: dict[str, str] = {
    "vgg_params": "VGG16's memory and parameters layer by layer (slide VGGNet (3)); start here",
    "receptive_field": "one 7x7 conv vs three 3x3; receptive field, jump and start of VGG16 and "
    "ResNet-50",
    "factorization": "5x5 -> two 3x3 and n x n -> 1 x n + n x 1: fewer weights, same receptive "
    "field",
    "one_by_one": "1x1 convolution as dimension reduction; naive vs reduced Inception (3a)",
    "googlenet_table": "GoogLeNet's table (params, ops) recomputed from the model; the paper's "
    "convention",
    "budgets": "AlexNet, VGG16, GoogLeNet's parameters; GAP vs FC head; the 144 test crops; VGG16 "
    "vs ResNet-34",
    "auxiliary_classifiers": "GoogLeNet's auxiliary heads: where, what they cost, the gradient "
    "they add",
    "resnet_flops": "ResNet-18..152 multiply-adds vs the paper's table; stride in 1x1 vs 3x3; "
    "basic vs bottleneck",
    "shortcuts": "plain-56 vs ResNet-56: the gradient at the first layer at init; scaled "
    "shortcuts (0.5^54)",
    "densenet_params": "DenseNet-121..264: channel growth, transitions, parameters vs ResNet-50",
    "se_params": "the SE block's 2C^2/r and SE-ResNet-50's parameters for r = 2..32",
    "inception_resnet": "Inception-v4 / Inception-ResNet modules and Reduction-A's (k, l, m, n)",
    "capstone": "parameters, multiply-adds and activations of eight CNNs on one log-log chart",
}
