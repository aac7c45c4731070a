"""A trivial legacy DEEPaaS v2 model, written like a DEEP Open Catalog module.

Used only by the benchmark: every server under test loads it through the
``deepaas.v2.model`` entry point ``trivial``.
"""

from webargs import fields

schema = {"y": fields.Int(required=True)}


def get_metadata():
    return {
        "id": "trivial",
        "name": "trivial",
        "description": "Doubles an integer (benchmark model).",
        "version": "0.1.0",
        "license": "Apache-2.0",
        "author": "modelport bench",
    }


def get_predict_args():
    return {"x": fields.Int(required=True, metadata={"description": "the integer to double"})}


def predict(**kwargs):
    return {"y": 2 * kwargs["x"]}
