"""Pipelines: catalog modules made of other modules' predictions.

A pipeline is a declarative document (:mod:`document`: steps calling module versions or aliases,
fan-out over a list, switch on a field, a final mapping) published in the catalog like any
module. :mod:`interfaces` reads each step's inputs and output from its module's own OpenAPI
document and checks that the links fit; :mod:`engine` runs a checked pipeline, each step in its
module's own worker; :mod:`service` joins them to the catalog and the model server.
"""
