"""Lists for industry: URL, hash and keyword lists, domain alerts, versions, exports, appeals."""
