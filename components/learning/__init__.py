"""Datasets and plain-numpy reference learning algorithms.

The event-level hardware simulation is checked against these: with ideal
devices and instant circuits it must reproduce :func:`wsp_train` on the same
seed.  Nothing here simulates time or circuits; it is arithmetic only.

* :mod:`.datasets`  -- ``load_task``, ``Task``, ``classify``, ``accuracy``
* :mod:`.network`   -- the multilayer network (bias = weight on a constant +1 input)
* :mod:`.reference` -- WSP (Maeda, SPSA, sign), serial WP, RWC, backprop
* :mod:`.presets`   -- default hyper-parameters per task (``PRESETS``)
"""

from .datasets import TASKS, Task, accuracy, classify, load_task
from .network import ACTIVATIONS, flatten, forward, init_weights, layer_shapes, n_weights, unflatten
from .presets import PRESETS, Preset
from .reference import (
    RULES,
    History,
    Trace,
    backprop_gradient,
    backprop_train,
    evaluate,
    rwc_train,
    serial_wp_train,
    wsp_step,
    wsp_train,
)

__all__ = [
    "ACTIVATIONS",
    "RULES",
    "TASKS",
    "History",
    "PRESETS",
    "Preset",
    "Task",
    "Trace",
    "accuracy",
    "backprop_gradient",
    "backprop_train",
    "classify",
    "evaluate",
    "flatten",
    "forward",
    "init_weights",
    "layer_shapes",
    "load_task",
    "n_weights",
    "rwc_train",
    "serial_wp_train",
    "unflatten",
    "wsp_step",
    "wsp_train",
]
