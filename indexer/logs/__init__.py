"""`indexer logs`: the lines of a namespace, app or pod read back from the indices the indexer
writes, as `kubectl logs` would show them (docs/reading-logs.md).

One job per module: `query` (what to read: indices, filters, the total order), `paging` (how:
point in time and `search_after`, in bounded memory), `follow` (new lines as they become
searchable, the lateness rule), `output` (raw, wide, json; colour), `cli` (flags, errors).
"""
