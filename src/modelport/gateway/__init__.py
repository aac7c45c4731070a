"""On-demand ("serverless") serving of catalog modules, each version in its own worker process.

``pool.ModelPool`` starts, reuses and unloads the workers (``worker``), talking to them over the
framed protocol of ``protocol``; ``modelport.api.gateway`` puts them behind the DEEPaaS routes.
Nothing is imported here, so that a worker process starts without loading the gateway's side.
"""
