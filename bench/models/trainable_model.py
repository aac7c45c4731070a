"""A legacy DEEPaaS v2 module with a trivial predict and a CPU-bound train (benchmark model).

Registered as the ``deepaas.v2.model`` entry point ``trainable``: DEEPaaS 2.6.0 and modelport
serve the very same module in bench/training.py.
"""

import time

from webargs import fields

schema = {"y": fields.Int(required=True)}


def get_metadata():
    return {"name": "trainable", "description": "Doubles an integer; trains by burning CPU."}


def get_predict_args():
    return {"x": fields.Int(required=True)}


def predict(**kwargs):
    return {"y": 2 * kwargs["x"]}


def get_train_args():
    return {"seconds": fields.Float(load_default=5.0)}


def train(**kwargs):
    deadline = time.monotonic() + kwargs["seconds"]
    spins = 0
    while time.monotonic() < deadline:  # pure-Python CPU work, holding the GIL
        sum(i * i for i in range(2000))
        spins += 1
    return {"spins": spins}
