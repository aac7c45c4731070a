"""A modelport pilot module: a tiny object detector (numpy), the first step of detect → classify."""
