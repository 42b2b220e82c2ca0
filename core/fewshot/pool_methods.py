"""The names of the ways a pool of unlabelled images can be used (core.fewshot.transductive implements
them); importable without NumPy, so that ``raresight eval --help`` stays instant."""

POOL_METHODS = ("none", "centre", "soft-kmeans", "bd-cspn")
REFINING_METHODS = ("soft-kmeans", "bd-cspn")  # the ones that move prototypes; "centre" only moves the origin
