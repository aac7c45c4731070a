"""A trivial legacy DEEPaaS v2 model that takes a file upload.

``predict`` receives the upload the DEEPaaS way: an object whose ``filename``
attribute is the path of a temporary file holding the uploaded bytes.
"""

from webargs import fields

schema = {"size": fields.Int(required=True), "y": fields.Int(required=True)}


def get_metadata():
    return {
        "id": "trivial-upload",
        "name": "trivial-upload",
        "description": "Returns the size of an uploaded file and doubles an integer.",
        "version": "0.1.0",
        "license": "Apache-2.0",
        "author": "modelport bench",
    }


def get_predict_args():
    return {
        "data": fields.Field(
            required=True,
            metadata={"type": "file", "location": "form", "description": "any file"},
        ),
        "x": fields.Int(required=True, metadata={"description": "the integer to double"}),
    }


def predict(**kwargs):
    # Read the whole file, as a real model would; do not delete it (the server owns it).
    with open(kwargs["data"].filename, "rb") as f:
        size = len(f.read())
    return {"size": size, "y": 2 * kwargs["x"]}
