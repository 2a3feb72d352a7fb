"""The public calls the request and latency benchmarks measure."""

# call: (code run in the child, what the cache holds first, target)
CALLS = {
    "header(uid)": ("audmodel.header(UID)", None, 2),
    "meta(uid)": ("audmodel.meta(UID)", None, 2),
    "url(uid)": ("audmodel.url(UID)", None, 2),
    "exists(uid)": ("audmodel.exists(UID)", None, 2),
    "versions(short_id)": ("audmodel.versions(SHORT)", None, 2),
    "latest_version(short_id)": ("audmodel.latest_version(SHORT)", None, 2),
    "load(uid), cold": ("audmodel.load(UID)", None, 4),
    "load(alias), cached": ("audmodel.load('best')", "audmodel.load(UID)", 2),
    "load(short_id), cached": ("audmodel.load(SHORT)", "audmodel.load(UID)", 2),
    "set_alias": ("audmodel.set_alias('other', UID)", None, 8),
    "publish": ("publish('2.0.0')", None, 12),
}
